// Gather: everything a reconcile decides on, I/O only. The source (for serviceManager the
// issuance step), the PKCS12 password, the target Secret, and the token check of the credentials
// that would become current. Each step returns a value; which credentials to check is the
// readiness chain's answer (pure).
import type { V1Secret } from '@kubernetes/client-node';
import type { BTPCertificate } from '../api/types.ts';
import { decodeSecretData } from '../kube/secret-data.ts';
import { selectX509 } from '../sources/credentials.ts';
import { fieldsFromSecret } from '../sources/secret-source.ts';
import { fieldsFromBindingSecret, viewServiceBinding } from '../sources/service-binding.ts';
import type { ServiceManagerPort } from '../sources/service-manager.ts';
import type { AccessHold } from './access-in-use.ts';
import type { DependencyKind } from './dependencies.ts';
import { clearAbandonedPendingKey, mayHoldAbandonedPendingKey } from './destination-generate.ts';
import { observeDestination } from './destination-source.ts';
import type { Observed, PasswordObservation, SourceObservation, TokenCheck } from './plan.ts';
import { readiness } from './policies/readiness.ts';
import type { ReconcileDeps } from './reconcile.ts';
import { type ExistingSecret, KEYSTORE_KEY } from './secret.ts';
import { issueFromServiceManager, type SmOutcome } from './service-manager-source.ts';
import { tokenCheckDue, tokenCheckEnabled } from './token.ts';
import { runTokenCheck, tokenSecretMissing } from './token-reconcile.ts';

export type Gathered = {
  readonly observed: Observed;
  /** The Service Manager client of a serviceManager source, when its access is usable. */
  readonly client: ServiceManagerPort | undefined;
};

type Touched = { kind: DependencyKind; object: string }[];

export async function gather(
  cert: BTPCertificate,
  access: AccessHold | undefined,
  deps: ReconcileDeps,
): Promise<Gathered> {
  const { namespace, name } = cert.metadata;
  const key = `${namespace}/${name}`;
  const touched: Touched = [];
  let source: SourceObservation;
  let sm: SmOutcome | undefined;
  if (cert.spec.source.serviceManager !== undefined) {
    const smRef = cert.spec.source.serviceManager.credentialsSecretRef;
    if (smRef) touched.push({ kind: 'secret', object: `${namespace}/${smRef.name}` });
    sm = await issueFromServiceManager(cert, deps.sm, deps.clock.now());
    if (sm.issuance.kind === 'candidate') deps.failpoints.hit('after-binding-created');
    source = sm.source;
  } else if (cert.spec.source.destination !== undefined) {
    source = await observeDestination(cert, deps.destination, deps.clock.now(), touched);
  } else {
    source = await observeSource(cert, deps, touched);
  }
  if (mayHoldAbandonedPendingKey(cert)) await clearAbandonedPendingKey(cert, deps.destination.kube);
  const keystorePassword = await observePassword(cert, deps, touched);
  deps.dependencies.record(key, touched);
  const secret = toExisting(await deps.kube.getSecret(namespace, cert.spec.secretName));

  // Decide at the time the observation ended: talking to Service Manager can take seconds (retries,
  // Retry-After), and a certificate issued meanwhile must not look not-yet-valid.
  const observed: Observed = {
    certificate: cert,
    source,
    secret,
    keystorePassword,
    now: deps.clock.now(),
    ...(sm === undefined ? {} : { issuance: sm.issuance }),
    ...(access === undefined ? {} : { access }),
    ...(sm === undefined ? {} : { lastSweptAt: deps.sm.sessions.lastSweep(cert.metadata.uid) }),
  };
  const tokenCheck = await checkToken(observed, deps);
  return {
    observed: tokenCheck === undefined ? observed : { ...observed, tokenCheck },
    client: sm?.client,
  };
}

/**
 * The token check: new credentials always (a Service Manager candidate before it becomes
 * current), the others when due. Only credentials the readiness chain passes are checked.
 */
async function checkToken(o: Observed, deps: ReconcileDeps): Promise<TokenCheck | undefined> {
  const cert = o.certificate;
  if (!tokenCheckEnabled(cert)) {
    await deps.tokens.forget(`${cert.metadata.namespace}/${cert.metadata.name}`);
    return undefined;
  }
  const target = readiness(o);
  if (!target.ok) return undefined;
  const due =
    o.issuance?.kind === 'candidate' ||
    tokenCheckDue(cert, target.valid.fingerprint, o.now) !== undefined ||
    (await tokenSecretMissing(cert, deps.kube));
  if (!due) return undefined;
  const result = await runTokenCheck(cert, target.valid, deps.kube, deps.tokens);
  return { fingerprint: target.valid.fingerprint, result };
}

async function observeSource(
  cert: BTPCertificate,
  deps: ReconcileDeps,
  touched: Touched,
): Promise<SourceObservation> {
  const ns = cert.metadata.namespace;
  const src = cert.spec.source;
  if (src.serviceBinding !== undefined) {
    const sbName = src.serviceBinding.name;
    const description = `ServiceBinding/${sbName}`;
    touched.push({ kind: 'servicebinding', object: `${ns}/${sbName}` });
    const found = await deps.caches.serviceBinding(ns, sbName);
    if (found.kind === 'api-missing') {
      return {
        ok: false,
        description,
        reason: 'ServiceBindingAPIMissing',
        message: 'the services.cloud.sap.com/v1 ServiceBinding API is not installed in this cluster',
      };
    }
    if (found.kind === 'absent') {
      return {
        ok: false,
        description,
        reason: 'SourceNotFound',
        message: `ServiceBinding ${sbName} not found`,
      };
    }
    const sb = viewServiceBinding(found.object);
    if (sb === undefined) {
      return {
        ok: false,
        description,
        reason: 'SourceNotReady',
        message: `ServiceBinding ${sbName} has no metadata`,
      };
    }
    touched.push({ kind: 'secret', object: `${ns}/${sb.secretName}` });
    const secret = await deps.kube.getSecret(ns, sb.secretName);
    if (secret === undefined) {
      return {
        ok: false,
        description,
        reason: 'SourceNotReady',
        message: `ServiceBinding ${sbName} has not written its Secret ${sb.secretName} yet (${sb.readyMessage})`,
      };
    }
    const fields = fieldsFromBindingSecret(sb, decodeSecretData(secret));
    if (!fields.ok) return { ...fields, description };
    const x509 = selectX509(fields.fields, `Secret ${sb.secretName} of ServiceBinding ${sbName}`);
    if (!x509.ok) return { ...x509, description };
    return {
      ok: true,
      description,
      revision: `${sb.bindingID || 'binding'}@${secret.metadata?.resourceVersion ?? ''}`,
      credentials: x509,
      renewal: {
        kind: 'service-binding',
        name: sbName,
        rotationEnabled: sb.rotationEnabled,
        rotationRequested: sb.rotationRequested,
        rotationBlocked: sb.rotationBlocked,
        rotationInProgress: sb.rotationInProgress,
      },
    };
  }
  if (src.secret !== undefined) {
    const secretName = src.secret.name;
    const description = `Secret/${secretName}`;
    touched.push({ kind: 'secret', object: `${ns}/${secretName}` });
    const secret = await deps.kube.getSecret(ns, secretName);
    if (secret === undefined) {
      return { ok: false, description, reason: 'SourceNotFound', message: `Secret ${secretName} not found` };
    }
    const fields = fieldsFromSecret(decodeSecretData(secret), secretName, src.secret.key);
    if (!fields.ok) return { ...fields, description };
    const x509 = selectX509(
      fields.fields,
      `Secret ${secretName}${src.secret.key ? ` key ${src.secret.key}` : ''}`,
    );
    if (!x509.ok) return { ...x509, description };
    return {
      ok: true,
      description,
      revision: secret.metadata?.resourceVersion ?? '',
      credentials: x509,
      renewal: { kind: 'none' },
    };
  }
  return {
    ok: false,
    description: 'none',
    reason: 'InvalidCredentials',
    message: 'spec.source names no source',
  };
}

async function observePassword(
  cert: BTPCertificate,
  deps: ReconcileDeps,
  touched: Touched,
): Promise<PasswordObservation | undefined> {
  const ref = cert.spec.additionalOutputFormats?.find((f) => f.type === 'PKCS12')?.passwordSecretRef;
  if (ref === undefined) return undefined;
  const ns = cert.metadata.namespace;
  touched.push({ kind: 'secret', object: `${ns}/${ref.name}` });
  const secret = await deps.kube.getSecret(ns, ref.name);
  const password = secret === undefined ? undefined : decodeSecretData(secret)[ref.key];
  if (password === undefined) {
    return {
      ok: false,
      message:
        secret === undefined ? `Secret ${ref.name} not found` : `Secret ${ref.name} has no key ${ref.key}`,
    };
  }
  return { ok: true, password };
}

function toExisting(secret: V1Secret | undefined): ExistingSecret | undefined {
  if (secret === undefined) return undefined;
  const data = decodeSecretData(secret, [KEYSTORE_KEY]);
  const controller = secret.metadata?.ownerReferences?.find((r) => r.controller === true);
  return {
    type: secret.type,
    labels: secret.metadata?.labels ?? {},
    annotations: secret.metadata?.annotations ?? {},
    data,
    controllerUid: controller?.uid,
    resourceVersion: secret.metadata?.resourceVersion ?? '',
    managedFields: secret.metadata?.managedFields,
  };
}
