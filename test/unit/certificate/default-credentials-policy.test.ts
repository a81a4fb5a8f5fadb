// The administrator's policy for the default Service Manager credentials (issue 10, point 4):
// parsed strictly at start, matched per BTPCertificate; nobody may without one.
import { describe, expect, it } from 'vitest';
import type { BTPCertificate } from '../../../src/api/types.ts';
import {
  defaultCredentialsRefusal,
  parseDefaultCredentialsPolicy,
} from '../../../src/certificate/default-credentials-policy.ts';

const cert = (namespace: string, instance: { serviceInstanceName?: string; serviceInstanceID?: string }) =>
  ({
    apiVersion: 'btpcerts.io/v1alpha1',
    kind: 'BTPCertificate',
    metadata: { name: 'c', namespace, uid: 'u', generation: 1, resourceVersion: '1' },
    spec: { secretName: 's', source: { serviceManager: instance } },
  }) as BTPCertificate;

const policy = (() => {
  const parsed = parseDefaultCredentialsPolicy(
    JSON.stringify({
      namespaces: {
        'team-a': { instanceNames: ['xsuaa-a'], instanceIDs: ['id-a'] },
        'team-b': { instanceIDs: ['id-b'] },
      },
    }),
  );
  if (!parsed.ok) throw new Error(parsed.error);
  return parsed.policy;
})();

describe('defaultCredentialsRefusal', () => {
  it.each([
    ['team-a', { serviceInstanceName: 'xsuaa-a' }],
    ['team-a', { serviceInstanceID: 'id-a' }],
    ['team-b', { serviceInstanceID: 'id-b' }],
  ] as const)('allows %s to bind %j', (namespace, instance) => {
    expect(defaultCredentialsRefusal(policy, cert(namespace, instance))).toBeUndefined();
  });

  it.each([
    [
      'a namespace not in the policy',
      'team-c',
      { serviceInstanceName: 'xsuaa-a' },
      "namespace team-c may not bind service instance xsuaa-a with the operator's default Service Manager credentials: the namespace is not in the operator's policy",
    ],
    [
      'an instance not listed for the namespace',
      'team-b',
      { serviceInstanceID: 'id-a' },
      "namespace team-b may not bind service instance ID id-a with the operator's default Service Manager credentials: the operator's policy does not list it for this namespace",
    ],
    [
      'a name where only IDs are listed',
      'team-b',
      { serviceInstanceName: 'id-b' },
      "namespace team-b may not bind service instance id-b with the operator's default Service Manager credentials: the operator's policy does not list it for this namespace",
    ],
    [
      'an allowed name next to the ID that would be bound',
      'team-a',
      { serviceInstanceName: 'xsuaa-a', serviceInstanceID: 'id-b' },
      "namespace team-a may not bind service instance ID id-b with the operator's default Service Manager credentials: the operator's policy does not list it for this namespace",
    ],
  ] as const)('refuses %s', (_, namespace, instance, message) => {
    expect(defaultCredentialsRefusal(policy, cert(namespace, instance))).toBe(message);
  });

  it('refuses everybody without a policy', () => {
    expect(defaultCredentialsRefusal(undefined, cert('team-a', { serviceInstanceName: 'xsuaa-a' }))).toBe(
      "namespace team-a may not bind service instance xsuaa-a with the operator's default Service Manager credentials: the operator has no --default-sm-credentials-policy",
    );
  });
});

describe('parseDefaultCredentialsPolicy', () => {
  it('accepts an empty policy (nobody may)', () => {
    const parsed = parseDefaultCredentialsPolicy('{"namespaces": {}}');
    expect(parsed.ok && parsed.policy.namespaces.size).toBe(0);
  });

  it.each([
    ['{', 'is not JSON'],
    ['[]', 'must be a JSON object with the key "namespaces"'],
    ['{"namespaces": {}, "extra": 1}', 'has an unknown key "extra"; only "namespaces" is allowed'],
    ['{"namespaces": []}', '"namespaces" must be an object from namespace names to instances'],
    ['{"namespaces": {"Team_A": {"instanceNames": ["x"]}}}', '"Team_A" is not a namespace name'],
    ['{"namespaces": {"a": ["x"]}}', 'namespaces.a must be an object with instanceNames and/or instanceIDs'],
    [
      '{"namespaces": {"a": {"instances": ["x"]}}}',
      'namespaces.a has an unknown key "instances"; allowed: instanceNames, instanceIDs',
    ],
    ['{"namespaces": {"a": {"instanceNames": "x"}}}', 'namespaces.a.instanceNames must be a list of strings'],
    [
      '{"namespaces": {"a": {"instanceIDs": ["x", ""]}}}',
      'namespaces.a.instanceIDs[1] must be a non-empty string of at most 253 characters',
    ],
    [
      '{"namespaces": {"a": {"instanceNames": []}}}',
      'namespaces.a allows no instance: list instanceNames or instanceIDs (or leave the namespace out)',
    ],
  ])('rejects %s: %s', (text, error) => {
    expect(parseDefaultCredentialsPolicy(text)).toEqual({ ok: false, error });
  });

  it('caps the sizes', () => {
    const many = Object.fromEntries(
      Array.from({ length: 1001 }, (_, i) => [`ns-${i}`, { instanceNames: ['x'] }]),
    );
    expect(parseDefaultCredentialsPolicy(JSON.stringify({ namespaces: many }))).toEqual({
      ok: false,
      error: 'names more than 1000 namespaces',
    });
    const long = { namespaces: { a: { instanceIDs: Array.from({ length: 101 }, (_, i) => `id-${i}`) } } };
    expect(parseDefaultCredentialsPolicy(JSON.stringify(long))).toEqual({
      ok: false,
      error: 'namespaces.a.instanceIDs has more than 100 entries',
    });
  });
});
