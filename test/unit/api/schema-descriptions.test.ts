// `kubectl explain btpcertificate.<path>` shows each field's description: every property of the
// schema the CRD is generated from, spec and status, nested ones and list items included, has one.
// A field added without a description (by anyone) fails here, named by its path.
import { describe, expect, it } from 'vitest';
import { resourceSchema } from '../../../src/api/schema.ts';
import type { Schema } from '../../../src/api/schema-types.ts';

/** Every property below `schema`, depth first, with its path as kubectl explain spells it. */
function* properties(schema: Schema, path: string): Generator<[string, Schema]> {
  for (const [name, child] of Object.entries(schema.properties ?? {})) {
    const at = path === '' ? name : `${path}.${name}`;
    yield [at, child];
    yield* properties(child, at);
  }
  if (schema.items !== undefined) yield* properties(schema.items, path);
  if (schema.additionalProperties !== undefined) yield* properties(schema.additionalProperties, `${path}.*`);
}

describe('the BTPCertificate schema', () => {
  const all = [...properties(resourceSchema, '')];

  it('has a description for every property, spec and status', () => {
    const missing = all
      // metadata: the API server refuses a CRD that specifies more than its type (ObjectMeta's own).
      .filter(([path, s]) => path !== 'metadata' && (s.description ?? '').trim() === '')
      .map(([path]) => path);
    expect(missing).toEqual([]);
  });

  it('walks spec and status down to their leaves', () => {
    const paths = all.map(([path]) => path);
    expect(paths).toContain('status.notAfter');
    expect(paths).toContain('status.conditions.reason');
    expect(paths).toContain('status.retiredBindings.deleteAfter');
    expect(paths).toContain('spec.source.serviceManager.x509.keyLength');
    expect(paths).toContain('spec.additionalOutputFormats.passwordSecretRef.key');
  });
});
