// The Ready chain: ordered checks, the first that answers wins: the credentials cannot be handed
// out (the readiness chain's reason), no token can be fetched with them, the access Secret is being
// deleted; otherwise Issued. Stalled and Reconciling follow from Ready (decide.ts). Pure.
import { ConditionType, isReason } from '../../api/conditions.ts';
import { iso } from '../../api/time.ts';
import type { BTPCertificate, Condition } from '../../api/types.ts';
import { type AccessHold, IN_USE_FINALIZER } from '../access-in-use.ts';
import type { DesiredCondition } from '../conditions.ts';
import { isDefinitiveTokenFailure } from '../token.ts';
import type { Readiness } from './readiness.ts';

export type ReadyVerdict = {
  readonly desired: DesiredCondition;
  /** Whether a failure needs a change; the reason's catalogue entry when absent. */
  readonly stalls?: boolean;
};

type Ctx = {
  readonly cert: BTPCertificate;
  readonly readiness: Readiness;
  /** TokenReady as this reconcile leaves it (set now, or stored). */
  readonly tokenReady: DesiredCondition | Condition | undefined;
  readonly access: AccessHold | undefined;
};
type Check = (c: Ctx) => ReadyVerdict | undefined;

const ready = (status: 'True' | 'False', reason: DesiredCondition['reason'], message: string) => ({
  type: ConditionType.Ready,
  status,
  reason,
  message,
});

const credentialsFailure: Check = ({ readiness }) =>
  readiness.ok ? undefined : { desired: ready('False', readiness.reason, readiness.message) };

/** Ready needs a token, where the check is on and the credentials themselves are fine. */
const tokenRefused: Check = ({ cert, readiness, tokenReady }) => {
  if (!readiness.ok || tokenReady?.status !== 'False' || !isReason(tokenReady.reason)) return undefined;
  return {
    desired: ready(
      'False',
      tokenReady.reason,
      `Secret ${cert.spec.secretName} holds credentials valid until ${iso(readiness.bundle.leaf.notAfter)}, but no token could be fetched with them: ${tokenReady.message}`,
    ),
    // A serviceManager source replaces refused credentials by itself: not stalled.
    ...(cert.spec.source.serviceManager !== undefined && isDefinitiveTokenFailure(tokenReady.reason)
      ? { stalls: false }
      : {}),
  };
};

/**
 * A live BTPCertificate whose access Secret is being deleted: its credentials stay valid (and are
 * renewed through the Secret, which stays), but Ready says why the Secret does not go.
 */
const accessTerminating: Check = ({ cert, access }) => {
  if (access?.exists !== true || !access.terminating) return undefined;
  const name = cert.spec.source.serviceManager?.credentialsSecretRef?.name ?? '';
  return {
    desired: ready(
      'True',
      'AccessSecretTerminating',
      access.held
        ? `the credentials are valid; the Service Manager access Secret ${name} is being deleted and is kept (finalizer ${IN_USE_FINALIZER}) until every BTPCertificate that uses it has deleted its bindings`
        : `the credentials are valid; the Service Manager access Secret ${name} is being deleted: once it is gone, the bindings of this BTPCertificate cannot be deleted by the operator`,
    ),
  };
};

/** Nothing stands in the way: Issued. */
function issued({ cert, readiness }: Ctx): ReadyVerdict {
  if (!readiness.ok) return { desired: ready('False', readiness.reason, readiness.message) };
  const leaf = readiness.bundle.leaf;
  return {
    desired: ready(
      'True',
      'Issued',
      `Secret ${cert.spec.secretName} holds valid credentials (${leaf.subject}) until ${iso(leaf.notAfter)}`,
    ),
  };
}

/** The Ready chain, in order; Issued when none answers. */
export const READY_CHAIN: readonly Check[] = [credentialsFailure, tokenRefused, accessTerminating];

export function readyVerdict(ctx: Ctx): ReadyVerdict {
  for (const check of READY_CHAIN) {
    const verdict = check(ctx);
    if (verdict !== undefined) return verdict;
  }
  return issued(ctx);
}
