// Boundary parsing of BTPCertificate objects as they come from the API server (an informer's cache
// or a list). Metadata is parsed field by field: it is not covered by the CRD schema. spec and
// status are taken as the types say, and that is why it is safe: the types and the CRD's
// openAPIV3Schema come from one schema (src/api/schema.ts, ADR 0001), and the API server validates
// both subresources against it on every write and prunes unknown fields, so an object that reaches
// us has that shape. What is checked here is what the controller relies on before anything else
// (the key, the uid its bindings are labelled with, the Secret name and the source), so that an
// object from an older CRD or a hand-made test fixture is skipped rather than misread.

import { isRecord } from '../runtime/is-record.ts';
import { API_VERSION, KIND } from './schema.ts';
import type { BTPCertificate, ObjectMeta } from './types.ts';

export function parseBTPCertificate(obj: unknown): BTPCertificate | undefined {
  if (!isRecord(obj) || !isRecord(obj.metadata) || !isRecord(obj.spec)) return undefined;
  const metadata = parseMetadata(obj.metadata);
  if (metadata === undefined) return undefined;
  if (typeof obj.spec.secretName !== 'string' || !isRecord(obj.spec.source)) return undefined;
  if (obj.status !== undefined && !isRecord(obj.status)) return undefined;
  return {
    // Trusted as the CRD schema validated them (see above).
    ...(obj as unknown as Pick<BTPCertificate, 'spec' | 'status'>),
    apiVersion: API_VERSION,
    kind: KIND,
    metadata,
  };
}

function parseMetadata(m: Record<string, unknown>): ObjectMeta | undefined {
  if (typeof m.name !== 'string' || typeof m.namespace !== 'string' || typeof m.uid !== 'string')
    return undefined;
  const labels = stringRecord(m.labels);
  const annotations = stringRecord(m.annotations);
  const finalizers = Array.isArray(m.finalizers)
    ? m.finalizers.filter((f): f is string => typeof f === 'string')
    : undefined;
  // The other fields (ownerReferences, timestamps, ...) are passed on as they are; nothing reads them.
  const { labels: _l, annotations: _a, finalizers: _f, deletionTimestamp: _d, ...rest } = m;
  return {
    ...rest,
    name: m.name,
    namespace: m.namespace,
    uid: m.uid,
    generation: typeof m.generation === 'number' ? m.generation : 0,
    resourceVersion: typeof m.resourceVersion === 'string' ? m.resourceVersion : '',
    ...(labels === undefined ? {} : { labels }),
    ...(annotations === undefined ? {} : { annotations }),
    ...(typeof m.deletionTimestamp === 'string' ? { deletionTimestamp: m.deletionTimestamp } : {}),
    ...(finalizers === undefined ? {} : { finalizers }),
  };
}

/** A map of strings (labels, annotations); values that are not strings are left out. */
function stringRecord(value: unknown): Record<string, string> | undefined {
  if (!isRecord(value)) return undefined;
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(value)) if (typeof v === 'string') out[k] = v;
  return out;
}
