// The token check measures what a tenant gives it before it reads it (issue 10): a token URL over
// 2 KiB and a CA bundle over 256 KiB or 100 certificates end the check with InputTooLarge before a
// request is made; the trim of the URL is one scan even on 300 KB of slashes (30 s in /\/+$/).
import type { V1Secret } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import type { BTPCertificate, BTPCertificateSpec } from '../../../src/api/types.ts';
import type { ValidCredentials } from '../../../src/certificate/decide.ts';
import { tokenTarget } from '../../../src/certificate/token.ts';
import { runTokenCheck, type TokenCheckPort } from '../../../src/certificate/token-reconcile.ts';
import type { KubeApi } from '../../../src/kube/api.ts';
import type { TokenCheckRequest } from '../../../src/token/checker.ts';
import { buildHierarchy } from '../pki/fixtures.ts';

const h = buildHierarchy();
const CERTURL = 'https://sub.authentication.cert.example';

function certificate(token: BTPCertificateSpec['token'] = {}): BTPCertificate {
  return {
    apiVersion: 'btpcerts.io/v1alpha1',
    kind: 'BTPCertificate',
    metadata: { name: 'c', namespace: 'ns', uid: 'uid-1', generation: 1, resourceVersion: '1' },
    spec: { secretName: 'tls', source: { secret: { name: 'src' } }, token },
  };
}

function credentials(fields: Record<string, string>): ValidCredentials {
  return { fingerprint: 'f', chainPem: 'CHAIN', keyPem: 'KEY', fields: { clientid: 'sb-1', ...fields } };
}

/** A cluster holding one ConfigMap `ca` with `data`, and a checker that records what it is asked. */
function world(data: Record<string, string> = {}) {
  const asked: TokenCheckRequest[] = [];
  const reads = {
    getSecret: async (): Promise<V1Secret | undefined> => undefined,
    getObject: async (_apiVersion: string, kind: string, _ns: string, name: string) =>
      kind === 'ConfigMap' && name === 'ca' ? { data } : undefined,
  };
  const checker: TokenCheckPort = {
    check: async (request) => {
      asked.push(request);
      return { ok: false, reason: 'Unreachable', message: 'not asked in this test' };
    },
    forget: async () => {},
  };
  // Only the two reads are used by the token check.
  return { kube: reads as unknown as KubeApi, checker, asked };
}

describe('the token URL', () => {
  it('is built from 300 KB of slashes in one scan', () => {
    const base = `${CERTURL}${'/'.repeat(300_000)}x`;
    expect(tokenTarget(certificate(), { clientid: 'sb-1', certurl: `${base}///` })).toEqual({
      ok: true,
      tokenUrl: `${base}/oauth/token`,
      clientId: 'sb-1',
    });
  });

  it('is refused over 2 KiB, before it is read or asked', async () => {
    const { kube, checker, asked } = world();
    const certurl = `${CERTURL}${'/'.repeat(60_000)}x`;
    const result = await runTokenCheck(certificate(), credentials({ certurl }), kube, checker);
    expect(result).toEqual({
      ok: false,
      tokenUrl: undefined,
      reason: 'InputTooLarge',
      message: `the credentials' certurl is a URL of ${certurl.length} characters; at most 2048 are accepted`,
    });
    expect(asked).toEqual([]);
  });

  it('is refused when the token URL built from it is over 2 KiB (status.token.endpoint takes no more)', async () => {
    const { kube, checker, asked } = world();
    const url = `${CERTURL}/${'a'.repeat(2048 - CERTURL.length - 1)}`;
    expect(url).toHaveLength(2048);
    const result = await runTokenCheck(
      certificate({ url }),
      credentials({ certurl: CERTURL }),
      kube,
      checker,
    );
    expect(result).toEqual({
      ok: false,
      tokenUrl: undefined,
      reason: 'InputTooLarge',
      message:
        'the token URL built from spec.token.url is a URL of 2060 characters; at most 2048 are accepted',
    });
    expect(asked).toEqual([]);
  });

  it('names the url when there is no certurl', async () => {
    const { kube, checker } = world();
    const url = `${CERTURL}/${'a'.repeat(2048)}`;
    const result = await runTokenCheck(certificate(), credentials({ url }), kube, checker);
    expect(result).toMatchObject({
      reason: 'InputTooLarge',
      message: expect.stringMatching(/^the credentials' url is a URL of 2088 characters/),
    });
  });
});

describe('the CA bundle', () => {
  const ref = { caBundleRef: { name: 'ca' } };

  it('is refused over 256 KiB (486 KB of BEGIN lines took seconds in the old pattern)', async () => {
    const bundle = '-----BEGIN CERTIFICATE-----\n'.repeat(Math.ceil(486_000 / 28));
    const { kube, checker, asked } = world({ 'ca.crt': bundle });
    const result = await runTokenCheck(certificate(ref), credentials({ certurl: CERTURL }), kube, checker);
    expect(result).toEqual({
      ok: false,
      tokenUrl: `${CERTURL}/oauth/token`,
      reason: 'InputTooLarge',
      message: `ConfigMap ca key ca.crt: the CA bundle text is ${bundle.length} bytes; at most 256 KiB are accepted`,
    });
    expect(asked).toEqual([]);
  });

  it('is refused with more than 100 certificates', async () => {
    const { kube, checker } = world({ 'ca.crt': h.root.pem.repeat(101) });
    const result = await runTokenCheck(certificate(ref), credentials({ certurl: CERTURL }), kube, checker);
    expect(result).toMatchObject({
      reason: 'InputTooLarge',
      message: 'ConfigMap ca key ca.crt: the CA bundle holds 101 certificates; at most 100 are accepted',
    });
  });

  it('without a certificate is CABundleNotFound, as before', async () => {
    const { kube, checker } = world({ 'ca.crt': '-----BEGIN CERTIFICATE-----\n'.repeat(9_000) });
    const result = await runTokenCheck(certificate(ref), credentials({ certurl: CERTURL }), kube, checker);
    expect(result).toMatchObject({
      reason: 'CABundleNotFound',
      message: 'ConfigMap ca key ca.crt holds no PEM certificate',
    });
  });

  it('within the caps is handed to the check', async () => {
    const { kube, checker, asked } = world({ 'ca.crt': h.root.pem.repeat(100) });
    await runTokenCheck(certificate(ref), credentials({ certurl: CERTURL }), kube, checker);
    expect(asked).toHaveLength(1);
    expect(asked[0]?.caPem).toBe(h.root.pem.repeat(100));
  });
});
