// The readiness chain: can the credentials the source gave be handed out, and as which Secret?
// Ordered checks, each failing with its own reason: Secret ownership, the source's outcome, the
// certificate and key, the template, the PKCS12 password, the output formats. Pure; the time is
// observed.now.
import type { Reason } from '../../api/conditions.ts';
import { reservedTemplateKey } from '../../api/secret-template.ts';
import { combinedPem, parseCredentialPems, pkcs12, type ValidatedBundle } from '../../pki/index.ts';
import type { X509Credentials } from '../../sources/credentials.ts';
import type { Observed, ValidCredentials } from '../plan.ts';
import { type DesiredSecret, desiredSecret, isUpToDate, secretData } from '../secret.ts';
import { renderTemplateData } from '../template.ts';

/** How soon to look again at a certificate that is not valid yet. */
export const NOT_YET_VALID_RECHECK_MS = 30_000;

export type ReadinessFailure = {
  readonly ok: false;
  readonly reason: Reason;
  readonly message: string;
  /** Look again after this long even if nothing changes (it becomes valid by itself). */
  readonly recheckAfterMs?: number;
};

export type Ready = {
  readonly ok: true;
  readonly bundle: ValidatedBundle;
  readonly credentials: X509Credentials;
  readonly desired: DesiredSecret;
  /** The Secret to apply (with the keystore bytes); undefined when it is up to date. */
  readonly write: { readonly secret: DesiredSecret; readonly keystore: Buffer | undefined } | undefined;
  /** What the Secret holds after the write (the token check's input). */
  readonly valid: ValidCredentials;
};

export type Readiness = ReadinessFailure | Ready;

const fail = (reason: Reason, message: string, recheckAfterMs?: number): ReadinessFailure => ({
  ok: false,
  reason,
  message,
  ...(recheckAfterMs === undefined ? {} : { recheckAfterMs }),
});

/** The Secret exists and belongs to another object (or to none): it is left alone. */
function secretConflict(o: Observed): ReadinessFailure | undefined {
  if (o.secret === undefined || o.secret.controllerUid === o.certificate.metadata.uid) return undefined;
  const owner =
    o.secret.controllerUid === undefined ? 'has no controller' : 'is controlled by another object';
  return fail(
    'SecretConflict',
    `Secret ${o.certificate.spec.secretName} already exists and ${owner}; it is left untouched`,
  );
}

const wantsKeystore = (o: Observed) =>
  (o.certificate.spec.additionalOutputFormats ?? []).some((f) => f.type === 'PKCS12');

function passwordMissing(o: Observed): ReadinessFailure | undefined {
  if (!wantsKeystore(o) || o.keystorePassword === undefined || o.keystorePassword.ok) return undefined;
  return fail('PasswordSecretNotFound', o.keystorePassword.message);
}

/**
 * Answers already given, by the source observation they were for. gather asks the chain which
 * credentials to check and decide asks it again for the same observation: the certificate parse,
 * the chain verification and a keystore are computed once per reconcile, not twice. Pure all the
 * same: an answer is reused only for the very same inputs.
 */
const answered = new WeakMap<object, { readonly o: Observed; readonly answer: Readiness }>();

/** The readiness chain, first failure wins. */
export function readiness(o: Observed): Readiness {
  const hit = answered.get(o.source);
  if (
    hit !== undefined &&
    hit.o.certificate === o.certificate &&
    hit.o.secret === o.secret &&
    hit.o.keystorePassword === o.keystorePassword &&
    hit.o.now === o.now
  ) {
    return hit.answer;
  }
  const answer = readinessOf(o);
  answered.set(o.source, { o, answer });
  return answer;
}

function readinessOf(o: Observed): Readiness {
  const cert = o.certificate;
  const conflict = secretConflict(o);
  if (conflict !== undefined) return conflict;
  if (!o.source.ok) return fail(o.source.reason, o.source.message, o.source.recheckAfterMs);
  const source = o.source;

  const parsed = parseCredentialPems({
    certificate: source.credentials.certificate,
    key: source.credentials.key,
    now: o.now,
  });
  if (!parsed.ok) {
    // Not valid yet becomes valid by itself: look again soon.
    return fail(
      parsed.error.code,
      `${source.description}: ${parsed.error.message}`,
      parsed.error.code === 'NotYetValid' ? NOT_YET_VALID_RECHECK_MS : undefined,
    );
  }
  const bundle = parsed.value;

  const reserved = reservedTemplateKey(cert.spec.secretTemplate);
  if (reserved !== undefined) {
    return fail(
      'InvalidSecretTemplate',
      `${reserved} is not allowed: a key the operator writes, or an annotation that copies the Secret to other namespaces`,
    );
  }
  const rendered = renderTemplateData(cert.spec.secretTemplate?.data ?? {}, source.credentials.fields);
  if (!rendered.ok) return fail('InvalidSecretTemplate', rendered.message);
  const password = passwordMissing(o);
  if (password !== undefined) return password;

  const formats = cert.spec.additionalOutputFormats ?? [];
  const data = secretData({
    chainPem: bundle.chainPem,
    caPem: bundle.caPem,
    keyPem: bundle.keyPem,
    ...(formats.some((f) => f.type === 'CombinedPEM') ? { combinedPem: combinedPem(bundle) } : {}),
    fields: source.credentials.fields,
    templateData: rendered.data,
  });
  const desired = desiredSecret({
    name: cert.spec.secretName,
    owner: { name: cert.metadata.name, uid: cert.metadata.uid, labels: cert.metadata.labels ?? {} },
    template: {
      ...(cert.spec.secretTemplate?.labels ? { labels: cert.spec.secretTemplate.labels } : {}),
      ...(cert.spec.secretTemplate?.annotations ? { annotations: cert.spec.secretTemplate.annotations } : {}),
    },
    data,
    keystorePassword: wantsKeystore(o) && o.keystorePassword?.ok ? o.keystorePassword.password : undefined,
  });
  const write =
    o.secret !== undefined && isUpToDate(o.secret, desired, cert.metadata.uid) ? undefined : desired;
  // The keystore has a random salt, so it is built only when the Secret is written.
  let keystore: Buffer | undefined;
  if (write?.keystore !== undefined) {
    const p12 = pkcs12(bundle, write.keystore.password);
    if (!p12.ok) return fail('OutputFormatFailed', `PKCS12: ${p12.error.message}`);
    keystore = p12.value;
  }
  return {
    ok: true,
    bundle,
    credentials: source.credentials,
    desired,
    write: write === undefined ? undefined : { secret: write, keystore },
    valid: {
      fingerprint: bundle.leaf.sha256Fingerprint,
      chainPem: bundle.chainPem,
      keyPem: bundle.keyPem,
      fields: source.credentials.fields,
    },
  };
}
