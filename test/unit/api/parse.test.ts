// parseBTPCertificate: the boundary between the API server's objects and the controller's types.
import { describe, expect, it } from 'vitest';
import { parseBTPCertificate } from '../../../src/api/parse.ts';

const raw = (metadata: Record<string, unknown> = {}, rest: Record<string, unknown> = {}) => ({
  apiVersion: 'btpcerts.io/v1alpha1',
  kind: 'BTPCertificate',
  metadata: { name: 'c', namespace: 'ns', uid: 'u', generation: 2, resourceVersion: '9', ...metadata },
  spec: { secretName: 's', source: { secret: { name: 'src' } } },
  ...rest,
});

describe('parseBTPCertificate', () => {
  it('takes a well-formed object as it is', () => {
    const parsed = parseBTPCertificate(
      raw(
        { labels: { a: 'b' }, finalizers: ['f'], deletionTimestamp: '2026-01-01T00:00:00Z' },
        { status: {} },
      ),
    );
    expect(parsed?.metadata).toMatchObject({
      name: 'c',
      uid: 'u',
      generation: 2,
      labels: { a: 'b' },
      finalizers: ['f'],
      deletionTimestamp: '2026-01-01T00:00:00Z',
    });
    expect(parsed?.spec.secretName).toBe('s');
  });

  it.each<[string, unknown]>([
    ['not an object', 'x'],
    ['no uid', raw({ uid: undefined })],
    ['no secretName', { ...raw(), spec: { source: {} } }],
    ['no source', { ...raw(), spec: { secretName: 's' } }],
    ['a status that is not an object', raw({}, { status: 'x' })],
  ])('skips %s', (_name, obj) => {
    expect(parseBTPCertificate(obj)).toBeUndefined();
  });

  it('metadata is parsed, not cast: wrong types are dropped or defaulted', () => {
    const parsed = parseBTPCertificate(
      raw({
        generation: '2',
        labels: { a: 1, b: 'c' },
        annotations: 'x',
        finalizers: ['f', 3],
        deletionTimestamp: 5,
      }),
    );
    expect(parsed?.metadata.generation).toBe(0);
    expect(parsed?.metadata.labels).toEqual({ b: 'c' });
    expect(parsed?.metadata.annotations).toBeUndefined();
    expect(parsed?.metadata.finalizers).toEqual(['f']);
    expect(parsed?.metadata.deletionTimestamp).toBeUndefined();
  });
});
