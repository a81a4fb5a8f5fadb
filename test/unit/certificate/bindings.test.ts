import { describe, expect, it } from 'vitest';
import type { BTPCertificate } from '../../../src/api/types.ts';
import {
  bindingLabels,
  bindingName,
  bindingParameters,
  jitteredRenewal,
  MAX_JITTER_MS,
  nextRetryTime,
  uidFraction,
} from '../../../src/certificate/bindings.ts';
import { wantsNewRevision } from '../../../src/certificate/service-manager-source.ts';
import { smAccessFromSecret } from '../../../src/sources/service-manager-access.ts';

const cert = (
  status: BTPCertificate['status'] = undefined,
  annotations: Record<string, string> = {},
): BTPCertificate => ({
  apiVersion: 'btpcerts.io/v1alpha1',
  kind: 'BTPCertificate',
  metadata: {
    name: 'c',
    namespace: 'ns',
    uid: '0b4c6a6e-1111-4a1a-9d2e-000000000001',
    generation: 1,
    resourceVersion: '1',
    annotations,
  },
  spec: { secretName: 's', source: { serviceManager: { serviceInstanceName: 'i' } } },
  ...(status ? { status } : {}),
});

describe('binding identity', () => {
  it('names and labels are a function of uid and revision', () => {
    const c = cert();
    expect(bindingName(c.metadata.uid, 3)).toBe(`btpcert-${c.metadata.uid}-r3`);
    expect(bindingLabels(c, 3)).toEqual({
      'btpcerts.io/certificate-uid': [c.metadata.uid],
      'btpcerts.io/namespace': ['ns'],
      'btpcerts.io/name': ['c'],
      'btpcerts.io/revision': ['3'],
      'btpcerts.io/managed-by': ['btp-cert-operator'],
    });
  });
});

describe('bindingParameters', () => {
  it('defaults to the documented x509 request at the top', () => {
    expect(bindingParameters({ serviceInstanceName: 'i' })).toEqual({
      'credential-type': 'x509',
      x509: { 'key-length': 2048, validity: 7, 'validity-type': 'DAYS' },
    });
  });
  it('nests under xsuaa for services that reuse XSUAA, keeping the user parameters', () => {
    expect(
      bindingParameters({
        serviceInstanceName: 'd',
        parametersLocation: 'XSUAA',
        x509: { keyLength: 4096, validity: 30, validityType: 'DAYS' },
        parameters: { xsuaa: { 'xs-security': { a: 1 } }, other: true },
      }),
    ).toEqual({
      other: true,
      xsuaa: {
        'xs-security': { a: 1 },
        'credential-type': 'x509',
        x509: { 'key-length': 4096, validity: 30, 'validity-type': 'DAYS' },
      },
    });
  });
});

describe('jitteredRenewal', () => {
  const nb = new Date('2026-01-01T00:00:00Z');
  const na = new Date('2026-01-08T00:00:00Z');
  const renewAt = new Date('2026-01-05T16:00:00Z');
  it('is earlier by a bounded, per-resource amount, whole seconds, never before notBefore', () => {
    const spread = new Set<number>();
    for (let i = 0; i < 50; i++) {
      const at = jitteredRenewal(renewAt, nb, na, `uid-${i}`);
      expect(at <= renewAt).toBe(true);
      expect(renewAt.getTime() - at.getTime()).toBeLessThanOrEqual(MAX_JITTER_MS + 1000);
      expect(at.getTime() % 1000).toBe(0);
      spread.add(at.getTime());
    }
    expect(spread.size).toBeGreaterThan(40);
    expect(jitteredRenewal(renewAt, nb, na, 'same')).toEqual(jitteredRenewal(renewAt, nb, na, 'same'));
    const short = jitteredRenewal(new Date(nb.getTime() + 1000), nb, new Date(nb.getTime() + 3000), 'x');
    expect(short >= nb).toBe(true);
  });
  it('uidFraction is in [0, 1)', () => {
    for (const u of ['a', 'b', 'c']) expect(uidFraction(u)).toBeGreaterThanOrEqual(0);
    for (const u of ['a', 'b', 'c']) expect(uidFraction(u)).toBeLessThan(1);
  });
});

describe('nextRetryTime', () => {
  it('grows with the attempts, capped at 30 minutes', () => {
    const now = new Date('2026-01-01T00:00:00Z');
    const d = (n: number) => nextRetryTime(now, n, 'u').getTime() - now.getTime();
    expect(d(1)).toBeGreaterThanOrEqual(8_000);
    expect(d(3)).toBeGreaterThan(d(1));
    expect(d(30)).toBeLessThanOrEqual(30 * 60_000);
  });
});

describe('wantsNewRevision', () => {
  const tokenReady = (reason: string) => ({
    type: 'TokenReady',
    status: 'False' as const,
    reason,
    message: 'm',
    lastTransitionTime: '2026-01-05T00:00:00Z',
  });
  const now = new Date('2026-01-06T00:00:00Z');
  const status = {
    binding: { id: 'b', name: 'n', revision: 1 },
    notBefore: '2026-01-01T00:00:00Z',
    notAfter: '2026-01-08T00:00:00Z',
  };
  it.each([
    ['no binding yet', cert(), 'initial'],
    ['not due', cert({ ...status, notAfter: '2026-02-01T00:00:00Z' }), undefined],
    ['due', cert(status), 'renewal'],
    [
      'a new renew request',
      cert({ ...status, notAfter: '2026-02-01T00:00:00Z' }, { 'btpcerts.io/renew-requested-at': 't1' }),
      'requested',
    ],
    [
      'a handled renew request',
      cert(
        { ...status, notAfter: '2026-02-01T00:00:00Z', lastRenewRequest: 't1' },
        { 'btpcerts.io/renew-requested-at': 't1' },
      ),
      undefined,
    ],
    [
      'credentials the token endpoint refuses',
      cert({
        ...status,
        notAfter: '2026-02-01T00:00:00Z',
        sha256Fingerprint: 'AA',
        token: { certificateFingerprint: 'AA' },
        conditions: [tokenReady('InvalidClient')],
      }),
      'refused',
    ],
    [
      'a refusal of other credentials than the current ones',
      cert({
        ...status,
        notAfter: '2026-02-01T00:00:00Z',
        sha256Fingerprint: 'BB',
        token: { certificateFingerprint: 'AA' },
        conditions: [tokenReady('TLSHandshakeFailed')],
      }),
      undefined,
    ],
    [
      'a passing trouble of the token endpoint',
      cert({
        ...status,
        notAfter: '2026-02-01T00:00:00Z',
        sha256Fingerprint: 'AA',
        token: { certificateFingerprint: 'AA' },
        conditions: [tokenReady('Unreachable')],
      }),
      undefined,
    ],
  ])('%s', (_n, c, want) => {
    expect(wantsNewRevision(c, now)).toBe(want);
  });
});

describe('smAccessFromSecret', () => {
  it.each([
    [
      'Kyma layout with a certificate',
      { clientid: 'c', 'tls.crt': 'C', 'tls.key': 'K', sm_url: 'https://sm/', tokenurl: 'https://uaa.cert' },
      {
        smUrl: 'https://sm',
        tokenUrl: 'https://uaa.cert/oauth/token',
        clientId: 'c',
        auth: { kind: 'x509', certificate: 'C', key: 'K' },
      },
    ],
    [
      'Kyma layout with a secret and a suffix',
      {
        clientid: 'c',
        clientsecret: 's',
        sm_url: 'https://sm',
        tokenurl: 'https://uaa',
        tokenurlsuffix: '/token',
      },
      { tokenUrl: 'https://uaa/token', auth: { kind: 'secret', clientSecret: 's' } },
    ],
    [
      'SM binding fields, x509',
      {
        clientid: 'c',
        certificate: 'C',
        key: 'K',
        sm_url: 'https://sm',
        url: 'https://uaa',
        certurl: 'https://uaa.cert',
      },
      { tokenUrl: 'https://uaa.cert/oauth/token', auth: { kind: 'x509' } },
    ],
    [
      'SM binding fields, secret',
      { clientid: 'c', clientsecret: 's', sm_url: 'https://sm', url: 'https://uaa' },
      { tokenUrl: 'https://uaa/oauth/token', auth: { kind: 'secret' } },
    ],
  ])('%s', (_n, data, expected) => {
    const r = smAccessFromSecret(data, 'acc');
    expect(r.ok).toBe(true);
    if (r.ok) expect(r.access).toMatchObject(expected);
  });
  it.each([
    [{ clientid: 'c', clientsecret: 's', url: 'https://u' }, 'has no sm_url'],
    [{ sm_url: 'https://sm', clientsecret: 's', url: 'https://u' }, 'has no clientid'],
    [{ sm_url: 'https://sm', clientid: 'c', url: 'https://u' }, 'neither clientsecret nor a certificate'],
    [{ sm_url: 'https://sm', clientid: 'c', clientsecret: 'SECRETVALUE' }, 'no tokenurl and no url'],
    [{ sm_url: 'http://sm', clientid: 'c', clientsecret: 's', url: 'https://u' }, 'not an https URL'],
  ])('rejects %j: %s, naming keys but no values', (data, message) => {
    const r = smAccessFromSecret(data, 'acc');
    expect(r).toMatchObject({ ok: false, reason: 'InvalidSMCredentials' });
    expect(JSON.stringify(r)).toContain(message);
    expect(JSON.stringify(r)).not.toContain('SECRETVALUE');
  });
});
