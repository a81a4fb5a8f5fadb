// Source `destination`, the pure parts: the Destination service access from its binding Secret,
// and the x509 credentials from what the service answered (a destination's keystore or a stored
// certificate). The I/O is src/certificate/destination-source.ts; the BTP client implements
// ./destination-port.ts.
import type { Reason } from '../api/conditions.ts';
import type { BTPCertificate } from '../api/types.ts';
import type { BtpErrorCode } from '../btp/errors.ts';
import { decodeKeystore, type KeystoreErrorCode } from '../pki/index.ts';
import { trimTrailingSlashes } from '../runtime/text.ts';
import {
  type CredentialFields,
  oversizedSecretFields,
  type SourceFailure,
  type X509Credentials,
} from './credentials.ts';
import type {
  DestinationAccess,
  DestinationLevel,
  FoundDestination,
  StoredCertificate,
} from './destination-port.ts';

/**
 * The destination's non-secret fields the Secret carries, under these keys (the Destination
 * service's own property names), for workloads that call the destination themselves.
 */
export const DESTINATION_FIELD_KEYS = ['URL', 'tokenServiceURL', 'clientId', 'Name'] as const;

/** Authentication types whose keystore is a client certificate for the workload. */
const CERTIFICATE_AUTHENTICATIONS = new Set(['ClientCertificateAuthentication', 'OAuth2ClientCredentials']);

/** The level a certificateName is stored at (default Subaccount). */
export const certificateLevel = (cert: BTPCertificate): DestinationLevel =>
  cert.spec.source.destination?.level ?? 'Subaccount';

/**
 * The Destination service access from its binding's fields: `uri`, `clientid`, and `clientsecret`
 * with `url`, or `certificate`+`key` with `certurl`.
 */
export function destinationAccessFromFields(
  fields: CredentialFields,
  secretName: string,
): { readonly ok: true; readonly access: DestinationAccess } | SourceFailure {
  const fail = (what: string): SourceFailure => ({
    ok: false,
    reason: 'InvalidDestinationCredentials',
    message: `Secret ${secretName} ${what} (fields present: ${Object.keys(fields).sort().join(', ') || 'none'})`,
  });
  const oversized = oversizedSecretFields(fields, secretName, ['uri', 'url', 'certurl']);
  if (oversized !== undefined) return oversized;
  const serviceUrl = fields.uri;
  const clientId = fields.clientid;
  if (!serviceUrl) return fail('has no uri (the Destination service URL)');
  if (!clientId) return fail('has no clientid');
  const certificate = fields.certificate ?? fields['tls.crt'];
  const key = fields.key ?? fields['tls.key'];
  let auth: DestinationAccess['auth'];
  let base: string | undefined;
  if (certificate && key) {
    auth = { kind: 'x509', certificate, key };
    base = fields.certurl;
    if (!base) return fail('has a certificate and key but no certurl');
  } else if (fields.clientsecret) {
    auth = { kind: 'secret', clientSecret: fields.clientsecret };
    base = fields.url;
    if (!base) return fail('has a clientsecret but no url');
  } else {
    return fail('has neither clientsecret nor a certificate and key');
  }
  const tokenUrl = `${trimTrailingSlashes(base)}/oauth/token`;
  for (const [name, url] of [
    ['uri', serviceUrl],
    ['token URL', tokenUrl],
  ] as const) {
    if (!/^https:\/\/[^\s/?#@]+(\/[^\s?#@]*)?$/.test(url))
      return fail(`has a ${name} that is not a plain https URL`);
  }
  return { ok: true, access: { serviceUrl: trimTrailingSlashes(serviceUrl), tokenUrl, clientId, auth } };
}

/** The keystore file of a destination, or why the destination holds no usable client certificate. */
export function destinationKeystore(
  found: FoundDestination,
): { readonly ok: true; readonly file: StoredCertificate } | SourceFailure {
  const c = found.configuration;
  const noCertificate = (why: string): SourceFailure => ({
    ok: false,
    reason: 'NoClientCertificate',
    message: `destination ${c.name} ${why}`,
  });
  if (c.authentication === undefined || !CERTIFICATE_AUTHENTICATIONS.has(c.authentication)) {
    return noCertificate(
      `uses Authentication ${c.authentication ?? 'unset'}; ClientCertificateAuthentication or OAuth2ClientCredentials with a client certificate is needed`,
    );
  }
  if (c.keyStoreLocation === undefined || c.keyStoreLocation === '') {
    return noCertificate('names no KeyStoreLocation: it does not authenticate with a client certificate');
  }
  const file = found.certificates.find((each) => each.name === c.keyStoreLocation);
  if (file === undefined) {
    return noCertificate(
      `names KeyStoreLocation ${c.keyStoreLocation}, but the Destination service returned no certificate of that name`,
    );
  }
  return { ok: true, file };
}

/** The destination's non-secret fields, under DESTINATION_FIELD_KEYS; for the token check too. */
export function destinationFields(found: FoundDestination): CredentialFields {
  const c = found.configuration;
  const fields: Record<string, string> = { Name: c.name, type: 'destination' };
  if (c.url !== undefined) fields.URL = c.url;
  if (c.tokenServiceUrl !== undefined) fields.tokenServiceURL = c.tokenServiceUrl;
  if (c.clientId !== undefined) fields.clientId = c.clientId;
  return fields;
}

/**
 * The x509 credentials of a keystore file: its certificates and its key, or with `key` given (a
 * generated key pair) its certificates and that key. Failures carry the keystore's own reasons.
 */
export function credentialsFromKeystore(
  file: StoredCertificate,
  password: string | undefined,
  fields: CredentialFields,
  key?: string,
): X509Credentials | SourceFailure {
  const decoded = decodeKeystore(file.content, password);
  const origin = `certificate ${file.name} of the Destination service`;
  if (!decoded.ok)
    return {
      ok: false,
      reason: keystoreReason(decoded.error.code),
      message: `${origin}: ${decoded.error.message}`,
    };
  const privateKey = key ?? decoded.value.key;
  if (privateKey === undefined) {
    return {
      ok: false,
      reason: 'InvalidKeystore',
      message: `${origin} holds no private key; store the key with the certificate (PEM or PKCS#12)`,
    };
  }
  return { ok: true, certificate: decoded.value.certificate, key: privateKey, fields };
}

const keystoreReason = (code: KeystoreErrorCode): SourceFailure['reason'] => code;

/** The Ready reason of a failed Destination service call. */
export function btpReason(code: BtpErrorCode): Reason {
  switch (code) {
    case 'BtpUnauthorized':
    case 'BtpForbidden':
    case 'BtpTLSHandshakeFailed':
    case 'BtpInvalidClientCredential':
    case 'BtpUnsupportedCredential':
      return 'DestinationAuthenticationFailed';
    case 'BtpHostNotAllowed':
      return 'HostNotAllowed';
    case 'BtpNotFound':
      return 'SourceNotFound';
    default:
      return 'DestinationServiceError';
  }
}
