// Boundary parsing of BTPCertificate objects as they come from the API server. The CRD schema has
// validated the shape already; this guards the fields the controller relies on.

import { isRecord } from '../runtime/is-record.ts';
import { API_VERSION, KIND } from './schema.ts';
import type { BTPCertificate } from './types.ts';

export function parseBTPCertificate(obj: unknown): BTPCertificate | undefined {
  if (!isRecord(obj) || !isRecord(obj.metadata) || !isRecord(obj.spec)) return undefined;
  const m = obj.metadata;
  if (typeof m.name !== 'string' || typeof m.namespace !== 'string' || typeof m.uid !== 'string')
    return undefined;
  if (typeof obj.spec.secretName !== 'string' || !isRecord(obj.spec.source)) return undefined;
  return {
    ...(obj as unknown as BTPCertificate),
    apiVersion: API_VERSION,
    kind: KIND,
    metadata: {
      ...(obj.metadata as unknown as BTPCertificate['metadata']),
      generation: typeof m.generation === 'number' ? m.generation : 0,
      resourceVersion: typeof m.resourceVersion === 'string' ? m.resourceVersion : '',
    },
  };
}
