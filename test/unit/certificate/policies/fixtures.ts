// Plain-value builders for the decision chains' tables: BTPCertificates, observations, token check
// results. The certificates are real (../../pki/fixtures.ts); the clock is NOW.
import type { BTPCertificate, BTPCertificateSpec, BTPCertificateStatus } from '../../../../src/api/types.ts';
import { Secret } from '../../../../src/btp/secret.ts';
import type { Observed, SourceObservation } from '../../../../src/certificate/decide.ts';
import type { TokenCheckResult } from '../../../../src/certificate/token.ts';
import { buildHierarchy, concat, keyPem, NOW } from '../../pki/fixtures.ts';

export { NOW };
export const h = buildHierarchy();
export const PEMS = {
  certificate: concat(h.leaf, h.intermediate, h.root),
  key: keyPem(h.leaf.key, 'pkcs1'),
};
export const FIELDS = { clientid: 'sb-1', certurl: 'https://cert.example/', url: 'https://uaa.example' };

export function certificate(
  spec: Partial<BTPCertificateSpec> = {},
  status?: BTPCertificateStatus,
  annotations: Record<string, string> = {},
): BTPCertificate {
  return {
    apiVersion: 'btpcerts.io/v1alpha1',
    kind: 'BTPCertificate',
    metadata: { name: 'c', namespace: 'ns', uid: 'uid-1', generation: 3, resourceVersion: '7', annotations },
    spec: { secretName: 'tls', source: { secret: { name: 'src' } }, ...spec },
    ...(status === undefined ? {} : { status }),
  };
}

/** A serviceManager BTPCertificate (its own access Secret `sm`, rotatedBindingTTL 10m). */
export const smCertificate = (status?: BTPCertificateStatus, annotations: Record<string, string> = {}) =>
  certificate(
    {
      source: { serviceManager: { serviceInstanceName: 'i', credentialsSecretRef: { name: 'sm' } } },
      rotatedBindingTTL: '10m',
    },
    status,
    annotations,
  );

export function source(
  pems: { certificate: string; key: string } = PEMS,
  renewal: Extract<SourceObservation, { ok: true }>['renewal'] = { kind: 'none' },
): Extract<SourceObservation, { ok: true }> {
  return {
    ok: true,
    description: 'Secret/src',
    revision: '1',
    credentials: { ok: true, ...pems, fields: { ...FIELDS, ...pems } },
    renewal,
  };
}

export const credentials = source().credentials;

export const observe = (o: Partial<Observed> = {}): Observed => ({
  certificate: certificate(),
  source: source(),
  secret: undefined,
  keystorePassword: undefined,
  now: NOW,
  ...o,
});

export const OK: Extract<TokenCheckResult, { ok: true }> = {
  ok: true,
  tokenUrl: 'https://cert.example/oauth/token',
  token: {
    accessToken: new Secret('eyJ.secret-token.sig'),
    tokenType: 'bearer',
    obtainedAt: NOW,
    expiresAt: new Date(NOW.getTime() + 43_199_000),
    expiresInSeconds: 43_199,
    scope: undefined,
  },
};
export const REVOKED: Extract<TokenCheckResult, { ok: false }> = {
  ok: false,
  tokenUrl: 'https://cert.example/oauth/token',
  reason: 'InvalidClient',
  message: 'the token endpoint does not know this client (HTTP 401)',
};
export const UNREACHABLE: Extract<TokenCheckResult, { ok: false }> = {
  ok: false,
  tokenUrl: 'https://cert.example/oauth/token',
  reason: 'Unreachable',
  message: 'no connection',
};

export const at = (iso: string) => new Date(iso);
export const later = (ms: number) => new Date(NOW.getTime() + ms);
