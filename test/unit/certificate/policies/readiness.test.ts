// The readiness chain (certificate/policies/readiness.ts): every reason it gives, first failure
// wins, and what it hands on when the credentials pass. Plain values, NOW fixed.
import { describe, expect, it } from 'vitest';
import type { Reason } from '../../../../src/api/conditions.ts';
import type { Observed } from '../../../../src/certificate/decide.ts';
import { NOT_YET_VALID_RECHECK_MS, readiness } from '../../../../src/certificate/policies/readiness.ts';
import { concat, days, keyPem, testKey } from '../../pki/fixtures.ts';
import { certificate, h, observe, PEMS, source } from './fixtures.ts';

const pkcs12 = (password = 'pw') =>
  ({
    certificate: certificate({
      additionalOutputFormats: [{ type: 'PKCS12', passwordSecretRef: { name: 'p', key: 'k' } }],
    }),
    keystorePassword: { ok: true, password },
  }) satisfies Partial<Observed>;
const foreign = { controllerUid: 'someone-else' };
const existing = (o: { controllerUid?: string | undefined }) => ({
  type: 'kubernetes.io/tls',
  labels: {},
  annotations: {},
  data: {},
  resourceVersion: '1',
  controllerUid: o.controllerUid,
});

describe('the readiness chain', () => {
  it.each<[string, Partial<Observed>, Reason]>([
    [
      'a Secret of another owner, even with bad credentials',
      { secret: existing(foreign), now: days(30) },
      'SecretConflict',
    ],
    ['a Secret with no controller', { secret: existing({ controllerUid: undefined }) }, 'SecretConflict'],
    [
      'the source failed: its reason',
      { source: { ok: false, description: 'Secret/src', reason: 'SourceNotFound', message: 'gone' } },
      'SourceNotFound',
    ],
    [
      'a certificate that does not parse',
      { source: source({ ...PEMS, certificate: 'x' }) },
      'InvalidCertificate',
    ],
    ['a key that does not parse', { source: source({ ...PEMS, key: 'x' }) }, 'InvalidKey'],
    [
      'a chain with a gap',
      { source: source({ ...PEMS, certificate: concat(h.leaf, h.root) }) },
      'BrokenChain',
    ],
    [
      'a key of another certificate',
      { source: source({ ...PEMS, key: keyPem(testKey('other'), 'pkcs1') }) },
      'KeyMismatch',
    ],
    ['expired', { now: days(30) }, 'Expired'],
    ['not valid yet', { now: days(-3) }, 'NotYetValid'],
    [
      'a template naming a field the credentials lack',
      { certificate: certificate({ secretTemplate: { data: { x: '{{ .nosuch }}' } } }) },
      'InvalidSecretTemplate',
    ],
    ...(
      [
        ['data', 'certurl'],
        ['data', 'tls.key'],
        ['data', 'keystore.p12'],
        ['labels', 'btpcerts.io/managed'],
        ['annotations', 'reflector.v1.k8s.emberstack.com/reflection-allowed'],
        ['annotations', 'replicator.v1.mittwald.de/replicate-to'],
        ['annotations', 'kubed.appscode.com/sync'],
      ] as const
    ).map(([part, key]): [string, Partial<Observed>, Reason] => [
      `a template setting the reserved ${part} key ${key} (stored before the CRD rule)`,
      { certificate: certificate({ secretTemplate: { [part]: { [key]: 'x' } } }) },
      'InvalidSecretTemplate',
    ]),
    [
      'the PKCS12 password Secret is missing',
      { ...pkcs12(), keystorePassword: { ok: false, message: 'Secret p not found' } },
      'PasswordSecretNotFound',
    ],
    ['a PKCS12 password Java cannot use', pkcs12('pässword'), 'OutputFormatFailed'],
  ])('%s -> %s', (_name, o, reason) => {
    const r = readiness(observe(o));
    expect(r).toMatchObject({ ok: false, reason });
  });

  it('names the reserved template key in the message', () => {
    const o = observe({
      certificate: certificate({ secretTemplate: { annotations: { 'kubed.appscode.com/sync': 'a=b' } } }),
    });
    expect(readiness(o)).toMatchObject({
      reason: 'InvalidSecretTemplate',
      message: expect.stringContaining('secretTemplate.annotations: kubed.appscode.com/sync'),
    });
  });

  it('not valid yet is looked at again soon; other failures wait for a change', () => {
    expect(readiness(observe({ now: days(-3) }))).toMatchObject({ recheckAfterMs: NOT_YET_VALID_RECHECK_MS });
    expect(readiness(observe({ now: days(30) }))).not.toHaveProperty('recheckAfterMs');
  });

  it('passing: the Secret to write with the chain leaf first, and the credentials to check', () => {
    const r = readiness(observe());
    if (!r.ok) throw new Error(r.message);
    expect(r.write?.secret.data['tls.crt']).toBe(concat(h.leaf, h.intermediate));
    expect(r.valid.chainPem).toBe(concat(h.leaf, h.intermediate));
    expect(r.valid.fingerprint).toBe(r.bundle.leaf.sha256Fingerprint);
    expect(r.write?.keystore).toBeUndefined();
  });

  it('passing with PKCS12: the keystore is built only when the Secret is written', () => {
    const r = readiness(observe(pkcs12()));
    if (!r.ok) throw new Error(r.message);
    expect(r.write?.keystore).toBeInstanceOf(Buffer);
  });
});
