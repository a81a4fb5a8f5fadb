// Act: carry out a plan, in a fixed order, and nothing else (ADR 0009). The Secret first; the
// bindings the plan lets go after the Secret holds their successor and before the status that
// forgets them (a crash in between leaves them recorded, and the next run deletes them); then the
// status, the Events, the token Secret, the orphan sweep.
import type { V1Secret } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { BTPCertificate } from '../api/types.ts';
import {
  FORCE_ROTATE_ANNOTATION,
  SERVICE_BINDING_GROUP,
  SERVICE_BINDING_VERSION,
} from '../sources/service-binding.ts';
import type { ServiceManagerPort } from '../sources/service-manager.ts';
import type { RetiredBinding } from './bindings.ts';
import type { Gathered } from './gather.ts';
import type { Plan } from './plan.ts';
import type { ReconcileDeps } from './reconcile.ts';
import { base64Data, controllerReference, KEYSTORE_HASH_ANNOTATION, KEYSTORE_KEY, sha256 } from './secret.ts';
import { sweepOrphans } from './service-manager-reconcile.ts';
import type { ServiceManagerSessions } from './service-manager-sessions.ts';
import { statusPatch } from './status-patch.ts';
import { writeTokenSecret } from './token-reconcile.ts';

export async function act(gathered: Gathered, plan: Plan, deps: ReconcileDeps): Promise<void> {
  const { observed, client } = gathered;
  const cert = observed.certificate;
  const { namespace, name, uid } = cert.metadata;
  const log = deps.logger.child({ certificate: `${namespace}/${name}` });
  if (plan.write !== undefined) {
    const existing = observed.secret;
    const read =
      existing === undefined
        ? 'absent'
        : { resourceVersion: existing.resourceVersion, managedFields: existing.managedFields };
    const written = await deps.kube.applySecret(toSecretBody(cert, plan.write), read);
    if (settlesInOneRun(cert)) {
      deps.ownWrites.record(
        `secret:${namespace}/${plan.write.secret.name}`,
        written.metadata?.resourceVersion,
      );
    }
    log.info({ secret: cert.spec.secretName, fingerprint: plan.status.sha256Fingerprint }, 'secret written');
    deps.failpoints.hit('after-secret-written');
  }
  if (plan.rotate !== undefined) {
    await deps.kube.annotate(
      {
        apiVersion: `${SERVICE_BINDING_GROUP}/${SERVICE_BINDING_VERSION}`,
        kind: 'ServiceBinding',
        namespace,
        name: plan.rotate.serviceBinding,
      },
      { [FORCE_ROTATE_ANNOTATION]: 'true' },
    );
    log.info({ serviceBinding: plan.rotate.serviceBinding }, 'rotation requested');
  }
  let status = plan.status;
  if (client !== undefined) {
    // Candidates never handed out: a failure fails the reconcile (the queue retries).
    for (const id of plan.deleteBindings) {
      if ((await deps.sm.sessions.deleteBinding(client, uid, id)) === 'not-owned') {
        log.warn({ binding: id }, 'binding not deleted: its labels do not name this certificate');
      }
    }
    if (plan.retiredDue.length > 0) {
      const deleted = await deleteRetired(client, uid, plan.retiredDue, deps.sm.sessions, log, () =>
        deps.failpoints.hit('before-retired-deleted'),
      );
      const retiredBindings = (status.retiredBindings ?? []).filter((r) => !deleted.has(r.id));
      status = { ...status, retiredBindings };
    }
  }
  const patch = statusPatch(cert.status ?? {}, status);
  if (Object.keys(patch).length > 0) {
    const version = await deps.kube.patchCertificateStatus(namespace, name, patch);
    if (settlesInOneRun(cert)) deps.ownWrites.record(`certificate:${namespace}/${name}`, version);
  }
  const target = { namespace, name, uid };
  for (const ev of plan.events) {
    // Event messages are written for people and carry no key material: log them too.
    log.info({ event: ev.reason, type: ev.type, detail: ev.message }, 'event');
    await deps.events.record(target, ev);
  }
  if (plan.tokenSecret !== undefined) {
    await writeTokenSecret(cert, plan.tokenSecret, deps.kube, deps.events);
  }
  if (plan.sweepOrphans && client !== undefined) {
    deps.sm.sessions.swept(uid, observed.now.getTime());
    const n = await sweepOrphans(cert, status, client, observed.now);
    if (n > 0) log.info({ orphans: n }, 'orphaned bindings deleted');
  }
}

/**
 * Whether a run after this one's writes would find nothing to do, so that their watch events need
 * not wake the certificate (own-writes.ts): true of the sources read whole in one run (a Secret, a
 * ServiceBinding's Secret). Service Manager and Destination certificates keep being woken by their
 * own writes: their issuance steps were not audited for that.
 */
function settlesInOneRun(cert: BTPCertificate): boolean {
  return cert.spec.source.secret !== undefined || cert.spec.source.serviceBinding !== undefined;
}

/**
 * Deletes retired bindings whose time has come; returns the IDs no longer to record (the others
 * stay recorded): those deleted, and those whose labels do not name this certificate (left alone).
 */
async function deleteRetired(
  sm: ServiceManagerPort,
  uid: string,
  due: readonly RetiredBinding[],
  sessions: ServiceManagerSessions,
  log: Logger,
  beforeDelete: () => void,
): Promise<Set<string>> {
  const deleted = new Set<string>();
  for (const r of due) {
    try {
      beforeDelete();
      const outcome = await sessions.deleteBinding(sm, uid, r.id);
      deleted.add(r.id);
      if (outcome === 'deleted') log.info({ binding: r.name }, 'retired binding deleted');
      else
        log.warn(
          { binding: r.name },
          'retired binding forgotten, not deleted: its labels do not name this certificate',
        );
    } catch (e) {
      log.warn({ binding: r.name, err: e }, 'retired binding not deleted yet');
    }
  }
  return deleted;
}

function toSecretBody(cert: BTPCertificate, write: NonNullable<Plan['write']>): V1Secret {
  const desired = write.secret;
  const data = base64Data(desired.data);
  const annotations: Record<string, string> = { ...desired.annotations };
  if (write.keystore !== undefined) {
    const b64 = write.keystore.toString('base64');
    data[KEYSTORE_KEY] = b64;
    annotations[KEYSTORE_HASH_ANNOTATION] = sha256(b64);
  }
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name: desired.name,
      namespace: cert.metadata.namespace,
      labels: { ...desired.labels },
      annotations,
      ownerReferences: [controllerReference(cert)],
    },
    type: 'kubernetes.io/tls',
    data,
  };
}
