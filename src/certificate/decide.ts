// The decision for one BTPCertificate: from what was observed to the whole plan (the Secret, the
// bindings to delete, the status with every condition, the Events, the next look). Pure: no I/O,
// the time is observed.now. The chains run in this order (ADR 0009): candidate choice, readiness,
// renewal trigger, issuance settlement, token gate, Ready; then every condition is written once,
// here, against the stored conditions.
import { ConditionType, Reasons } from '../api/conditions.ts';
import { earliest, iso } from '../api/time.ts';
import type { BTPCertificate, BTPCertificateStatus, Condition } from '../api/types.ts';
import { certificateInfo } from '../pki/index.ts';
import { byConditionOrder, type DesiredCondition, findCondition, setCondition } from './conditions.ts';
import type { EventSpec, Observed, Plan } from './plan.ts';
import { chooseCredentials, retiredDue, settleIssuance } from './policies/issuance.ts';
import { readiness } from './policies/readiness.ts';
import { type ReadyVerdict, readyVerdict } from './policies/ready.ts';
import {
  expiredRenewal,
  type RenewalVerdict,
  renewalTrigger,
  rotationRequestStatus,
} from './policies/renewal-trigger.ts';
import { tokenGate } from './policies/token-gate.ts';
import { renewalAt } from './renewal.ts';
import { ORPHAN_SWEEP_INTERVAL_MS } from './service-manager-sessions.ts';

export type {
  EventSpec,
  Observed,
  PasswordObservation,
  Plan,
  RenewalMechanism,
  SourceObservation,
  TokenCheck,
  ValidCredentials,
} from './plan.ts';
export { NOT_YET_VALID_RECHECK_MS } from './policies/readiness.ts';
export { ROTATION_RETRY, rotationRetryMs } from './policies/renewal-trigger.ts';

export function decide(observed: Observed): Plan {
  const { subject: o, deletes: refused } = chooseCredentials(observed);
  const cert = o.certificate;
  const previous = cert.status ?? {};
  const now = o.now;
  let status: BTPCertificateStatus = {
    ...previous,
    observedGeneration: cert.metadata.generation,
    source: o.source.description,
  };
  const events: EventSpec[] = [];

  // Readiness: can the credentials be handed out?
  const credentials = readiness(o);
  let renewal: RenewalVerdict;
  const recheck: (Date | undefined)[] = [];
  if (credentials.ok) {
    const leaf = credentials.bundle.leaf;
    const mechanism = o.source.ok ? o.source.renewal : { kind: 'none' as const };
    const renewAt = renewalAt(cert, leaf.notBefore, leaf.notAfter, mechanism.kind === 'service-manager');
    status = {
      ...status,
      sourceRevision: o.source.ok ? o.source.revision : '',
      notBefore: iso(leaf.notBefore),
      notAfter: iso(leaf.notAfter),
      renewalTime: iso(renewAt),
      serialNumber: leaf.serialNumber,
      subject: leaf.subject,
      issuer: leaf.issuer,
      sha256Fingerprint: leaf.sha256Fingerprint,
      secretHash: credentials.desired.dataHash,
    };
    if (credentials.write !== undefined) events.push(writeEvent(o, leaf.sha256Fingerprint, leaf.notAfter));
    // Renewal trigger: ask the source for new credentials once it is due.
    renewal = renewalTrigger(o, mechanism, renewAt, leaf);
    if (renewal.event !== undefined && changed(previous.conditions, renewal.condition)) {
      events.push(renewal.event);
    }
    // The certificate is valid through the millisecond of its notAfter: look again just after it.
    const expiresAt = new Date(leaf.notAfter.getTime() + 1000);
    recheck.push(...[renewal.recheckAt, expiresAt].filter((d) => d !== undefined && d > now));
  } else {
    const ready = { type: ConditionType.Ready, status: 'False', reason: credentials.reason } as const;
    if (changed(previous.conditions, { ...ready, message: credentials.message })) {
      events.push({ type: 'Warning', reason: credentials.reason, message: credentials.message });
    }
    // Expired means the certificate parsed, so its identity can be read.
    const expired =
      credentials.reason === 'Expired' && o.source.ok
        ? certificateInfo(o.source.credentials.certificate)
        : undefined;
    renewal =
      expired?.ok === true && o.source.ok
        ? expiredRenewal(o, o.source.renewal, {
            ...expired.value,
            fingerprint: expired.value.sha256Fingerprint,
          })
        : {
            condition: undefined,
            rotate: undefined,
            request: undefined,
            event: undefined,
            recheckAt: undefined,
          };
    if (renewal.event !== undefined) events.push(renewal.event);
    recheck.push(
      credentials.recheckAfterMs === undefined
        ? undefined
        : new Date(now.getTime() + credentials.recheckAfterMs),
      renewal.recheckAt,
    );
  }
  if (renewal.request !== undefined) {
    status = { ...status, ...rotationRequestStatus(renewal.request.at, renewal.request.fingerprint) };
  }

  // Issuance settlement (serviceManager): promote, retire, back off.
  const settled = settleIssuance(cert, o.issuance, credentials.ok, status, now);
  status = settled.status;
  events.push(...settled.events);
  recheck.push(...settled.recheck);

  // Token gate.
  const token = tokenGate(cert, o.tokenCheck, now);
  if (token.token === 'drop') {
    const { token: _dropped, ...rest } = status;
    status = rest;
  } else if (token.token !== undefined) {
    status = { ...status, token: token.token };
  }
  events.push(...token.events);
  recheck.push(token.nextCheckAt);

  const ready = readyVerdict({
    cert,
    readiness: credentials,
    tokenReady: token.tokenReady ?? findCondition(previous.conditions, ConditionType.TokenReady),
    access: o.access,
  });
  status = {
    ...status,
    conditions: writeConditions(
      previous.conditions,
      { ready, renewal: settled.renewal ?? renewal.condition, tokenReady: token.tokenReady },
      now,
      cert.metadata.generation,
    ),
  };

  const issuance = o.issuance;
  const served =
    issuance?.kind === 'current' || issuance?.kind === 'kept' || issuance?.kind === 'candidate'
      ? issuance.binding
      : undefined;
  const last = o.lastSweptAt;
  return {
    write: credentials.ok ? credentials.write : undefined,
    rotate: renewal.rotate,
    status,
    events,
    requeueAt: earliest(...recheck),
    ...(credentials.ok ? { credentials: credentials.valid } : {}),
    deleteBindings: [...refused, ...settled.deletes],
    retiredDue: retiredDue(issuance, status, now),
    tokenSecret: token.tokenSecret,
    // Orphans: after each rotation, at the first reconcile of this process, and every few hours.
    sweepOrphans:
      served !== undefined &&
      status.binding?.id === served.id &&
      (settled.promoted || last === undefined || now.getTime() - last >= ORPHAN_SWEEP_INTERVAL_MS),
  };
}

/** The conditions a reconcile settled on. Condition types absent from `verdicts` stay as stored. */
export type Verdicts = {
  readonly ready: ReadyVerdict;
  /** Renewal: set, kept verbatim as stored (a Condition), or undefined: as stored. */
  readonly renewal?: DesiredCondition | Condition | undefined;
  readonly tokenReady?: DesiredCondition | undefined;
};

/**
 * The one place conditions are written: each against the stored one, so lastTransitionTime moves
 * only when its status differs from the stored status. Ready brings the kstatus conditions derived
 * from it (Stalled, Reconciling).
 */
export function writeConditions(
  stored: readonly Condition[] | undefined,
  verdicts: Verdicts,
  now: Date,
  generation: number,
): Condition[] {
  const { ready } = verdicts;
  let next = setCondition(stored ?? [], ready.desired, now, generation);
  const failing = ready.desired.status !== 'True';
  const stalls = failing && (ready.stalls ?? Reasons[ready.desired.reason].stalls);
  next = setCondition(
    next,
    {
      type: ConditionType.Stalled,
      status: stalls ? 'True' : 'False',
      reason: stalls ? ready.desired.reason : 'Progressing',
      message: stalls ? ready.desired.message : 'not stalled',
    },
    now,
    generation,
  );
  next = setCondition(
    next,
    {
      type: ConditionType.Reconciling,
      status: failing && !stalls ? 'True' : 'False',
      reason: failing && !stalls ? ready.desired.reason : 'Progressing',
      message: failing && !stalls ? ready.desired.message : 'not reconciling',
    },
    now,
    generation,
  );
  const { renewal, tokenReady } = verdicts;
  if (renewal !== undefined && 'lastTransitionTime' in renewal) {
    // Kept as stored, its observedGeneration included.
    next = [...next.filter((c) => c.type !== ConditionType.Renewal), renewal].sort(byConditionOrder);
  } else if (renewal !== undefined) {
    next = setCondition(next, renewal, now, generation);
  }
  if (tokenReady !== undefined) next = setCondition(next, tokenReady, now, generation);
  return next;
}

/**
 * The conditions of a BTPCertificate being deleted (the finalizer, ADR 0008): Ready=False with why
 * it has not gone yet, Stalled or Reconciling after it.
 */
export function deletionConditions(
  cert: BTPCertificate,
  reason: DesiredCondition['reason'],
  message: string,
  stalls: boolean,
  now: Date,
): Condition[] {
  return writeConditions(
    cert.status?.conditions,
    { ready: { desired: { type: ConditionType.Ready, status: 'False', reason, message }, stalls } },
    now,
    cert.metadata.generation,
  );
}

function writeEvent(o: Observed, fingerprint: string, notAfter: Date): EventSpec {
  const secretName = o.certificate.spec.secretName;
  if (o.secret === undefined) {
    return {
      type: 'Normal',
      reason: 'Issued',
      message: `wrote Secret ${secretName}, valid until ${iso(notAfter)}`,
    };
  }
  if (
    o.certificate.status?.sha256Fingerprint === fingerprint &&
    o.certificate.status.secretHash !== undefined
  ) {
    return {
      type: 'Warning',
      reason: 'Restored',
      message: `Secret ${secretName} was changed by someone else; restored it`,
    };
  }
  return {
    type: 'Normal',
    reason: 'Updated',
    message: `updated Secret ${secretName}, valid until ${iso(notAfter)}`,
  };
}

function changed(
  conditions: readonly Condition[] | undefined,
  desired: DesiredCondition | undefined,
): boolean {
  if (desired === undefined) return false;
  const c = findCondition(conditions, desired.type);
  return (
    c === undefined ||
    c.status !== desired.status ||
    c.reason !== desired.reason ||
    c.message !== desired.message
  );
}
