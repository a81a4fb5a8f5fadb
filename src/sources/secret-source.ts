// Source `secret`: any Secret holding the credential fields as keys, or one JSON document under a key.
import { isRecord } from '../runtime/is-record.ts';
import {
  type Fields,
  flattenFields,
  oversizedField,
  parseJsonObject,
  type SourceFailure,
} from './credentials.ts';

/**
 * The credential fields of a Secret. With `key`, that key holds one JSON document: the flat
 * credentials (service-key shape), `{"credentials": {...}}`, or VCAP_SERVICES with one binding.
 */
export function fieldsFromSecret(
  data: Readonly<Record<string, string>>,
  secretName: string,
  key: string | undefined,
): Fields | SourceFailure {
  // Without `key`, selectX509 measures every field before one is read.
  if (key === undefined) return { ok: true, fields: data };
  const text = data[key];
  const origin = `Secret ${secretName} key ${key}`;
  if (text === undefined) {
    return {
      ok: false,
      reason: 'SourceNotFound',
      message: `Secret ${secretName} has no key ${key} (keys: ${Object.keys(data).sort().join(', ') || 'none'})`,
    };
  }
  // The JSON document is measured before it is parsed, as one field.
  const oversized = oversizedField({ [key]: text }, `Secret ${secretName}`);
  if (oversized !== undefined) return oversized;
  const doc = parseJsonObject(text, origin);
  if (!doc.ok) return doc;
  return unwrapCredentials(doc.value, origin);
}

function unwrapCredentials(doc: Record<string, unknown>, origin: string): Fields | SourceFailure {
  if (isRecord(doc.credentials)) return { ok: true, fields: flattenFields(doc.credentials) };
  const looksLikeVcap =
    Object.keys(doc).length > 0 && Object.values(doc).every((v) => Array.isArray(v) && v.every(isRecord));
  if (!looksLikeVcap) return { ok: true, fields: flattenFields(doc) };
  const bindings = Object.values(doc).flatMap((v) => (Array.isArray(v) ? v : []));
  const withCredentials = bindings.filter((b) => isRecord(b) && isRecord(b.credentials));
  const only = withCredentials[0];
  if (withCredentials.length !== 1 || !isRecord(only) || !isRecord(only.credentials)) {
    return {
      ok: false,
      reason: 'InvalidCredentials',
      message: `${origin} looks like VCAP_SERVICES with ${withCredentials.length} bindings; it must hold exactly one`,
    };
  }
  return { ok: true, fields: flattenFields(only.credentials) };
}
