// source.destination.generate, the gather step (ADR 0012): the operator makes the key pair, the
// Destination service signs a CSR for it, and the private key is never sent anywhere. The current
// credentials are the target Secret's own; a new key is made when there are none that are valid,
// or when renewal is due, and it is kept in a pending-key Secret of this BTPCertificate before the
// CSR goes out, so that an operator that dies between the request and the write of the TLS Secret
// finds the key again (and adopts the certificate the service signed for it). The new credentials
// are handed to the readiness chain like any source's: validated before they reach the Secret; the
// current ones stay until then. Once the TLS Secret holds the new key, the pending key is cleared.
import type { V1Secret } from '@kubernetes/client-node';
import type { Reason } from '../api/conditions.ts';
import type { BTPCertificate } from '../api/types.ts';
import { isBtpError } from '../btp/errors.ts';
import { type KubeApi, type SecretRead, secretRead } from '../kube/api.ts';
import { decodeSecretData } from '../kube/secret-data.ts';
import {
  certificateSigningRequest,
  decodeKeystore,
  generatePrivateKey,
  parseCredentialPems,
  type ValidatedBundle,
} from '../pki/index.ts';
import type { CredentialFields, SourceFailure, X509Credentials } from '../sources/credentials.ts';
import { btpReason, certificateLevel, credentialsFromKeystore } from '../sources/destination.ts';
import type { DestinationPort, StoredCertificate } from '../sources/destination-port.ts';
import type { SourceObservation } from './plan.ts';
import { rotationRetryMs } from './policies/renewal-trigger.ts';
import { renewalAt } from './renewal.ts';
import { base64Data, controllerReference } from './secret.ts';

/** status.source of a certificateName source, stored or generated: `DestinationCertificate/<name>`. */
export const STORED_CERTIFICATE_SOURCE = 'DestinationCertificate';

/** The label of a pending-key Secret: the uid of the BTPCertificate it belongs to. */
export const PENDING_KEY_LABEL = 'btpcerts.io/pending-key-for';
export const PENDING_KEY = 'pending.key';
/** How long a failed generation waits when there is no certificate to take the time from. */
export const GENERATE_RETRY_MS = 30_000;

export const pendingKeySecretName = (cert: BTPCertificate) => `btpcert-${cert.metadata.uid}-pending-key`;

/** A failed generation, and when to try again (kept by the process, per BTPCertificate). */
export type GenerateAttempt = { readonly retryAt: Date; readonly reason: Reason; readonly message: string };

export type GenerateDeps = {
  readonly kube: Kube;
  /** Kept per BTPCertificate (namespace/name and uid: DestinationSessions). */
  readonly attempts: {
    readonly get: (cert: BTPCertificate) => GenerateAttempt | undefined;
    readonly set: (cert: BTPCertificate, attempt: GenerateAttempt | undefined) => void;
  };
};

type Kube = Pick<KubeApi, 'getSecret' | 'applySecret'>;
type PendingRead = SecretRead | 'foreign';
type Current = {
  readonly keyPem: string;
  readonly chainPem: string;
  readonly bundle: ValidatedBundle | undefined;
};

export async function generateFromDestination(
  cert: BTPCertificate,
  port: DestinationPort,
  deps: GenerateDeps,
  now: Date,
  description: string,
): Promise<SourceObservation> {
  const spec = cert.spec.source.destination;
  const generate = spec?.generate;
  const name = spec?.certificateName;
  if (spec === undefined || generate === undefined || name === undefined) {
    return { ok: false, description, reason: 'InvalidCredentials', message: 'no generate spec' };
  }
  const fields: CredentialFields = { Name: name, type: 'destination' };
  const current = await currentCredentials(cert, deps.kube, now);
  const pending = await readPending(cert, deps.kube);
  if (pending.key !== undefined && current?.keyPem === pending.key) {
    // The TLS Secret holds the pending key: the rotation is done.
    pending.read = await writePending(cert, deps.kube, undefined, pending.read);
    pending.key = undefined;
  }
  const serve = (c: Current, failure?: GenerateAttempt): SourceObservation => ({
    ok: true,
    description,
    revision: `${name}@${c.bundle?.leaf.sha256Fingerprint ?? ''}`,
    credentials: { ok: true, certificate: c.chainPem, key: c.keyPem, fields },
    renewal: { kind: 'destination-generate', ...(failure === undefined ? {} : { failure }) },
  });
  const valid = current?.bundle;
  const due = valid === undefined || now >= renewalAt(cert, valid.leaf.notBefore, valid.leaf.notAfter, false);
  if (!due && current !== undefined) return serve(current);

  /** Until a failed generation's retry time: the current credentials if valid, else the failure. */
  const held = (a: GenerateAttempt): SourceObservation =>
    current !== undefined && valid !== undefined
      ? serve(current, a)
      : {
          ok: false,
          description,
          reason: a.reason,
          message: a.message,
          recheckAfterMs: a.retryAt.getTime() - now.getTime(),
        };
  const fail = (reason: Reason, message: string, retryAfterMs = 0): SourceObservation => {
    const retryMs =
      valid === undefined
        ? GENERATE_RETRY_MS
        : rotationRetryMs(valid.leaf.notBefore, valid.leaf.notAfter, now);
    const failed: GenerateAttempt = {
      retryAt: new Date(now.getTime() + Math.max(retryMs, retryAfterMs)),
      reason,
      message,
    };
    deps.attempts.set(cert, failed);
    return held(failed);
  };
  const attempt = deps.attempts.get(cert);
  if (attempt !== undefined && now < attempt.retryAt) return held(attempt);

  try {
    let keyPem = pending.key;
    if (keyPem === undefined) {
      keyPem = await generatePrivateKey();
      // Kept before anything is asked of the service: the key of a signed CSR is never lost.
      await writePending(cert, deps.kube, keyPem, pending.read);
    }
    const level = certificateLevel(cert);
    const signed = await signedFor(port, name, level, keyPem, fields, now, async () =>
      port.createCertificate({
        name,
        level,
        commonName: generate.commonName,
        validity: { unit: generate.validity?.timeUnit ?? 'DAYS', value: generate.validity?.value ?? 30 },
        automaticRenew: generate.automaticRenew ?? false,
        csrPem: certificateSigningRequest(keyPem, generate.commonName),
      }),
    );
    // A file that does not decode is the keystore's own reason (InvalidKeystore), tried again later.
    if (!signed.ok) return fail(signed.reason, signed.message);
    deps.attempts.set(cert, undefined);
    // The revision the served credentials will have once written: no second status write for it.
    const signedBundle = parseCredentialPems({ certificate: signed.certificate, key: keyPem, now });
    return {
      ok: true,
      description,
      revision: `${name}@${signedBundle.ok ? signedBundle.value.leaf.sha256Fingerprint : ''}`,
      credentials: signed,
      renewal: { kind: 'destination-generate' },
    };
  } catch (e) {
    if (!isBtpError(e)) throw e;
    return fail(btpReason(e.code), `Destination service: ${e.message}`, e.retryAfterMs);
  }
}

/**
 * Whether a pending key may be left over although this certificate no longer generates (generate
 * removed, or another source, while a CSR failed or was outstanding): the last source was a
 * Destination service certificate, the only kind with a pending key.
 */
export const mayHoldAbandonedPendingKey = (cert: BTPCertificate): boolean =>
  cert.spec.source.destination?.generate === undefined &&
  (cert.status?.source?.startsWith(`${STORED_CERTIFICATE_SOURCE}/`) ?? false);

/** Clears a pending key nobody will adopt: the private key of a CSR is not kept for nothing. */
export async function clearAbandonedPendingKey(cert: BTPCertificate, kube: Kube): Promise<void> {
  const pending = await readPending(cert, kube);
  if (pending.key !== undefined) await writePending(cert, kube, undefined, pending.read);
}

/**
 * The chain the service signed for `keyPem`: the stored certificate if it already is for this key
 * (an operator that died after the request), else a new one from a CSR. The stored certificate of
 * that name is replaced: the service keeps one file per name.
 */
async function signedFor(
  port: DestinationPort,
  name: string,
  level: 'Subaccount' | 'Instance',
  keyPem: string,
  fields: CredentialFields,
  now: Date,
  create: () => Promise<StoredCertificate>,
): Promise<X509Credentials | SourceFailure> {
  const stored = await port.getCertificate(name, level);
  const adopted = stored === undefined ? undefined : chainFor(stored, keyPem, now);
  if (adopted !== undefined) return { ok: true, certificate: adopted, key: keyPem, fields };
  if (stored !== undefined) await port.deleteCertificate(name, level);
  // A file that decodes is judged by the readiness chain (a chain for another key is KeyMismatch).
  return credentialsFromKeystore(await create(), undefined, fields, keyPem);
}

/** The stored chain, if it is a valid certificate for this key. */
function chainFor(file: StoredCertificate, keyPem: string, now: Date): string | undefined {
  const decoded = decodeKeystore(file.content, undefined);
  if (!decoded.ok) return undefined;
  const bundle = parseCredentialPems({ certificate: decoded.value.certificate, key: keyPem, now });
  return bundle.ok ? decoded.value.certificate : undefined;
}

/** The target Secret's credentials, when this BTPCertificate wrote it. */
async function currentCredentials(cert: BTPCertificate, kube: Kube, now: Date): Promise<Current | undefined> {
  const secret = await kube.getSecret(cert.metadata.namespace, cert.spec.secretName);
  if (!controlledBy(secret, cert)) return undefined;
  const data = decodeSecretData(secret as V1Secret);
  const keyPem = data['tls.key'];
  const chainPem = data['tls.crt'];
  if (keyPem === undefined || chainPem === undefined) return undefined;
  const bundle = parseCredentialPems({ certificate: chainPem, key: keyPem, now });
  return { keyPem, chainPem, bundle: bundle.ok ? bundle.value : undefined };
}

async function readPending(
  cert: BTPCertificate,
  kube: Kube,
): Promise<{ key: string | undefined; read: PendingRead }> {
  const secret = await kube.getSecret(cert.metadata.namespace, pendingKeySecretName(cert));
  if (secret === undefined) return { key: undefined, read: 'absent' };
  if (!controlledBy(secret, cert)) return { key: undefined, read: 'foreign' };
  const key = decodeSecretData(secret)[PENDING_KEY];
  return {
    key: key === '' ? undefined : key,
    read: secretRead(secret),
  };
}

/** Writes (or, with undefined, clears) the pending key. A Secret of that name not ours is an error. */
async function writePending(
  cert: BTPCertificate,
  kube: Kube,
  keyPem: string | undefined,
  read: PendingRead,
): Promise<SecretRead> {
  if (read === 'foreign') {
    throw new Error(`Secret ${pendingKeySecretName(cert)} exists and is not owned by this BTPCertificate`);
  }
  const written = await kube.applySecret(
    {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: {
        name: pendingKeySecretName(cert),
        namespace: cert.metadata.namespace,
        labels: { [PENDING_KEY_LABEL]: cert.metadata.uid },
        ownerReferences: [controllerReference(cert)],
      },
      type: 'Opaque',
      data: base64Data(keyPem === undefined ? {} : { [PENDING_KEY]: keyPem }),
    },
    read,
  );
  return secretRead(written);
}

const controlledBy = (secret: V1Secret | undefined, cert: BTPCertificate): boolean =>
  secret?.metadata?.ownerReferences?.some((r) => r.controller === true && r.uid === cert.metadata.uid) ===
  true;
