// The token check's part of a reconcile: read the CA bundle the spec names, run the check through
// the TokenChecker, and keep the optional token Secret. The decisions are in ./token.ts.
import type { V1Secret } from '@kubernetes/client-node';
import { DEFAULTS } from '../api/schema.ts';
import { iso } from '../api/time.ts';
import type { BTPCertificate } from '../api/types.ts';
import { type KubeApi, secretRead } from '../kube/api.ts';
import type { EventRecorder } from '../kube/events.ts';
import { decodeSecretData } from '../kube/secret-data.ts';
import { caBundleCertificates } from '../pki/index.ts';
import { isRecord } from '../runtime/is-record.ts';
import { oversizedUrl } from '../sources/credentials.ts';
import type { TokenCheckOutcome, TokenCheckRequest } from '../token/checker.ts';
import type { ValidCredentials } from './decide.ts';
import { base64Data, controllerReference, MANAGED_LABEL } from './secret.ts';
import {
  type TokenCheckResult,
  type TokenSecretWrite,
  tokenBase,
  tokenCheckEnabled,
  tokenTarget,
} from './token.ts';

/** What the reconciler needs of the TokenChecker. */
export type TokenCheckPort = {
  readonly check: (request: TokenCheckRequest) => Promise<TokenCheckOutcome>;
  /** Closes the pool of a BTPCertificate that is gone or no longer checked. */
  readonly forget: (owner: string) => Promise<void>;
};

export async function runTokenCheck(
  cert: BTPCertificate,
  credentials: ValidCredentials,
  kube: KubeApi,
  checker: TokenCheckPort,
): Promise<TokenCheckResult> {
  // The URL is measured before it is read (the trim included), and the token URL built from it
  // too: it goes into status.token.endpoint, which takes at most MAX_URL_LENGTH characters.
  const { base = '', what } = tokenBase(cert, credentials.fields);
  const tooLong = oversizedUrl(base, what);
  if (tooLong !== undefined)
    return { ok: false, tokenUrl: undefined, reason: 'InputTooLarge', message: tooLong.message };
  const target = tokenTarget(cert, credentials.fields);
  if (!target.ok)
    return { ok: false, tokenUrl: undefined, reason: 'NoTokenEndpoint', message: target.message };
  const builtTooLong = oversizedUrl(target.tokenUrl, `the token URL built from ${what}`);
  if (builtTooLong !== undefined)
    return { ok: false, tokenUrl: undefined, reason: 'InputTooLarge', message: builtTooLong.message };
  const bundle = await readCaBundle(cert, kube);
  if (!bundle.ok)
    return { ok: false, tokenUrl: target.tokenUrl, reason: bundle.reason, message: bundle.message };
  const outcome = await checker.check({
    owner: `${cert.metadata.namespace}/${cert.metadata.name}`,
    tokenUrl: target.tokenUrl,
    clientId: target.clientId,
    certificate: credentials.chainPem,
    key: credentials.keyPem,
    ...(bundle.pem === undefined ? {} : { caPem: bundle.pem }),
  });
  if (outcome.ok) return { ok: true, tokenUrl: target.tokenUrl, token: outcome.token };
  return {
    ok: false,
    tokenUrl: target.tokenUrl,
    reason: outcome.reason,
    message: outcome.message,
    ...(outcome.retryAfterMs === undefined ? {} : { retryAfterMs: outcome.retryAfterMs }),
  };
}

type CaBundle =
  | { readonly ok: true; readonly pem: string | undefined }
  | { readonly ok: false; readonly reason: 'CABundleNotFound' | 'InputTooLarge'; readonly message: string };

async function readCaBundle(cert: BTPCertificate, kube: KubeApi): Promise<CaBundle> {
  const ref = cert.spec.token?.caBundleRef;
  if (ref === undefined) return { ok: true, pem: undefined };
  const kind = ref.kind ?? DEFAULTS.caBundleKind;
  const key = ref.key ?? DEFAULTS.caBundleKey;
  const ns = cert.metadata.namespace;
  let data: Record<string, string> | undefined;
  if (kind === 'Secret') {
    const secret = await kube.getSecret(ns, ref.name);
    data = secret === undefined ? undefined : decodeSecretData(secret);
  } else {
    const cm = await kube.getObject('v1', 'ConfigMap', ns, ref.name);
    data = isRecord(cm) && isRecord(cm.data) ? stringValues(cm.data) : cm === undefined ? undefined : {};
  }
  const notFound = (message: string): CaBundle => ({ ok: false, reason: 'CABundleNotFound', message });
  if (data === undefined) return notFound(`${kind} ${ref.name} (spec.token.caBundleRef) not found`);
  const pem = data[key];
  if (pem === undefined) return notFound(`${kind} ${ref.name} has no key ${key}`);
  // Measured and counted in one linear scan before TLS parses it.
  const checked = caBundleCertificates(pem);
  if (!checked.ok) {
    return checked.error.code === 'InputTooLarge'
      ? {
          ok: false,
          reason: 'InputTooLarge',
          message: `${kind} ${ref.name} key ${key}: ${checked.error.message}`,
        }
      : notFound(`${kind} ${ref.name} key ${key} holds no PEM certificate`);
  }
  return { ok: true, pem };
}

function stringValues(data: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(data)) if (typeof v === 'string') out[k] = v;
  return out;
}

/** Is the token Secret missing (so that a check, which brings a token, is due)? */
export async function tokenSecretMissing(cert: BTPCertificate, kube: KubeApi): Promise<boolean> {
  const name = cert.spec.token?.secretName;
  if (name === undefined || !tokenCheckEnabled(cert)) return false;
  return (await kube.getSecret(cert.metadata.namespace, name)) === undefined;
}

/** Writes the token Secret, unless a Secret of that name belongs to someone else. */
export async function writeTokenSecret(
  cert: BTPCertificate,
  write: TokenSecretWrite,
  kube: KubeApi,
  events: EventRecorder,
): Promise<boolean> {
  const { namespace, name: certName, uid } = cert.metadata;
  const existing = await kube.getSecret(namespace, write.name);
  const controller = existing?.metadata?.ownerReferences?.find((r) => r.controller === true);
  if (existing !== undefined && controller?.uid !== uid) {
    await events.record(
      { namespace, name: certName, uid },
      {
        type: 'Warning',
        reason: 'SecretConflict',
        message: `token Secret ${write.name} already exists and is not owned by this BTPCertificate; the token is not written`,
      },
    );
    return false;
  }
  const body: V1Secret = {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name: write.name,
      namespace,
      labels: { [MANAGED_LABEL]: 'true' },
      ownerReferences: [controllerReference(cert)],
    },
    type: 'Opaque',
    data: base64Data({
      access_token: write.token.accessToken.reveal(),
      token_type: write.token.tokenType,
      expires_at: iso(write.token.expiresAt),
    }),
  };
  await kube.applySecret(body, secretRead(existing));
  return true;
}
