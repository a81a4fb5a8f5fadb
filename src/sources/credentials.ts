// Credential fields as every source delivers them, and the choice of the x509 part.
import type { Reason } from '../api/conditions.ts';
import { isRecord } from '../runtime/is-record.ts';
import { formatBytes, utf8Bytes } from '../runtime/text.ts';

/** Binding credential fields, flat: nested objects are JSON text, as the Kyma BTP operator writes them. */
export type CredentialFields = Readonly<Record<string, string>>;

export type SourceFailure = { readonly ok: false; readonly reason: Reason; readonly message: string };
export type Fields = { readonly ok: true; readonly fields: CredentialFields };

export type X509Credentials = {
  readonly ok: true;
  readonly certificate: string;
  readonly key: string;
  /** Every field of the credentials the certificate came from (certificate and key included). */
  readonly fields: CredentialFields;
};

/** A field of a source (a Secret key, a credential) larger than this is refused before it is read. */
export const MAX_FIELD_BYTES = 64 * 1024;
/** A URL from a source (certurl, url, sm_url, tokenurl) longer than this is refused. */
export const MAX_URL_LENGTH = 2048;

/** A field name for a message: as it is when it looks like one, else not echoed. */
const shownName = (name: string): string =>
  name.length <= 64 && /^[-._a-zA-Z0-9]+$/.test(name) ? name : 'with an unusual name';

/**
 * InputTooLarge for the first field over MAX_FIELD_BYTES: it names the field, its size and the
 * limit, never its content. Undefined when every field fits.
 */
export function oversizedField(
  fields: Readonly<Record<string, string>>,
  origin: string,
): SourceFailure | undefined {
  for (const [name, value] of Object.entries(fields)) {
    // A string of more UTF-16 units than the cap is over it in UTF-8 too; shorter ones are measured.
    if (value.length <= MAX_FIELD_BYTES / 3) continue;
    const bytes = utf8Bytes(value);
    if (bytes <= MAX_FIELD_BYTES) continue;
    return {
      ok: false,
      reason: 'InputTooLarge',
      message: `${origin}: field ${shownName(name)} is ${bytes} bytes; at most ${formatBytes(MAX_FIELD_BYTES)} are accepted per field`,
    };
  }
  return undefined;
}

/**
 * InputTooLarge for the first field of a Secret over MAX_FIELD_BYTES, or the first of `urls` over
 * MAX_URL_LENGTH: sizes first, so nothing of an oversized field or URL is read.
 */
export function oversizedSecretFields(
  fields: Readonly<Record<string, string>>,
  secretName: string,
  urls: readonly string[],
): SourceFailure | undefined {
  const oversized = oversizedField(fields, `Secret ${secretName}`);
  if (oversized !== undefined) return oversized;
  for (const name of urls) {
    const value = fields[name];
    const long = value === undefined ? undefined : oversizedUrl(value, `Secret ${secretName} field ${name}`);
    if (long !== undefined) return long;
  }
  return undefined;
}

/** InputTooLarge for a URL over MAX_URL_LENGTH (`what` names it, e.g. "field certurl"). */
export function oversizedUrl(url: string, what: string): SourceFailure | undefined {
  if (url.length <= MAX_URL_LENGTH) return undefined;
  return {
    ok: false,
    reason: 'InputTooLarge',
    message: `${what} is a URL of ${url.length} characters; at most ${MAX_URL_LENGTH} are accepted`,
  };
}

const X509_CREDENTIAL_TYPES = new Set(['x509', 'X509_GENERATED', 'X509_PROVIDED', 'X509_ATTESTED']);

/** Flattens a JSON object into credential fields; object and array values become JSON text. */
export function flattenFields(obj: Record<string, unknown>): CredentialFields {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(obj)) {
    if (v === null || v === undefined) continue;
    out[k] = typeof v === 'string' ? v : typeof v === 'object' ? JSON.stringify(v) : String(v);
  }
  return out;
}

/** Parses JSON text that must be an object; never echoes the text in the error. */
export function parseJsonObject(
  text: string,
  what: string,
): { readonly ok: true; readonly value: Record<string, unknown> } | SourceFailure {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return { ok: false, reason: 'InvalidCredentials', message: `${what} is not valid JSON` };
  }
  if (!isRecord(parsed)) {
    return { ok: false, reason: 'InvalidCredentials', message: `${what} is JSON but not an object` };
  }
  return { ok: true, value: parsed };
}

const fieldList = (fields: CredentialFields) => Object.keys(fields).sort().join(', ') || 'none';

/**
 * Picks the x509 credentials out of a binding's fields: at the top level, or nested in `uaa` as
 * services that embed an XSUAA binding deliver them. Field names only ever appear in messages.
 */
export function selectX509(fields: CredentialFields, origin: string): X509Credentials | SourceFailure {
  const oversized = oversizedField(fields, origin);
  if (oversized !== undefined) return oversized;
  const top = x509At(fields);
  if (top) return top;
  const uaaText = fields.uaa;
  if (uaaText !== undefined) {
    const uaa = parseJsonObject(uaaText, `${origin}: field uaa`);
    if (!uaa.ok) return uaa;
    const nestedFields = flattenFields(uaa.value);
    const nested = x509At(nestedFields);
    if (nested) return nested;
    const notX509 = notX509Failure(nestedFields, `${origin} (uaa)`);
    if (notX509) return notX509;
  }
  const notX509 = notX509Failure(fields, origin);
  if (notX509) return notX509;
  return {
    ok: false,
    reason: 'InvalidCredentials',
    message: `${origin} has no certificate and key fields (fields present: ${fieldList(fields)})`,
  };
}

function x509At(fields: CredentialFields): X509Credentials | undefined {
  const certificate = fields.certificate ?? fields['tls.crt'];
  const key = fields.key ?? fields['tls.key'];
  if (certificate === undefined || key === undefined || certificate === '' || key === '') return undefined;
  return { ok: true, certificate, key, fields };
}

function notX509Failure(fields: CredentialFields, origin: string): SourceFailure | undefined {
  const type = fields['credential-type'];
  const isSecretType = type !== undefined && !X509_CREDENTIAL_TYPES.has(type);
  if (!isSecretType && fields.clientsecret === undefined) return undefined;
  return {
    ok: false,
    reason: 'NotX509Credentials',
    message:
      `${origin} holds client-secret credentials (credential-type ${type ?? 'unset'}), not x509. ` +
      'Request {"credential-type":"x509"} at the top of the binding parameters for xsuaa, ' +
      'or nested under "xsuaa" for services that reuse XSUAA (destination, auditlog, ...)',
  };
}
