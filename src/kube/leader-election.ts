// Leader election on a coordination.k8s.io/v1 Lease, so that several replicas can run and only
// one reconciles. The rules are client-go's: a lease is free when it has no holder or when this
// candidate has seen it unchanged for leaseDuration, by its own clock (client-go's observedTime:
// the holder's renewTime is another machine's clock and is never compared with ours, so clock skew
// between replicas cannot make two leaders); the holder renews every retryPeriod and gives up when
// it could not renew for renewDeadline; every write carries the resourceVersion it read, so two
// candidates never both win. A leader that stops cleanly releases the lease (no holder), so the
// next one takes over at once instead of after leaseDuration.
import { CoordinationV1Api, type KubeConfig, type V1Lease, V1MicroTime } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { Clock } from '../runtime/clock.ts';
import { statusOf } from './errors.ts';

export type LeaseTiming = {
  readonly leaseDurationMs: number;
  readonly renewDeadlineMs: number;
  readonly retryPeriodMs: number;
};

/** client-go's defaults: 15 s, 10 s, 2 s. */
export const DEFAULT_LEASE_TIMING: LeaseTiming = Object.freeze({
  leaseDurationMs: 15_000,
  renewDeadlineMs: 10_000,
  retryPeriodMs: 2_000,
});

/** What the decision needs of a Lease. */
export type LeaseView = {
  readonly holder: string;
  readonly durationMs: number;
  readonly transitions: number;
  /** Changes whenever the holder writes the lease: holder, renewTime and resourceVersion. */
  readonly record: string;
};

/** The lease record as this candidate last saw it, and when it first saw it so, by its own clock. */
export type Observation = { readonly record: string; readonly atMs: number };

/** Pure: the observation after reading `lease` at `nowMs` (the time moves only when the record changed). */
export function observe(
  previous: Observation | undefined,
  lease: LeaseView | undefined,
  nowMs: number,
): Observation | undefined {
  if (lease === undefined) return undefined;
  return previous?.record === lease.record ? previous : { record: lease.record, atMs: nowMs };
}

export type LeaseDecision =
  | { readonly action: 'create' }
  | { readonly action: 'renew' }
  | { readonly action: 'take'; readonly transitions: number }
  | { readonly action: 'wait'; readonly holder: string };

/**
 * Pure: what `identity` may do with the lease as read at `nowMs`, `observed` being when this
 * candidate first saw the lease's current record (observe()), by the same clock as `nowMs`.
 */
export function leaseDecision(
  lease: LeaseView | undefined,
  identity: string,
  observed: Observation | undefined,
  nowMs: number,
): LeaseDecision {
  if (lease === undefined) return { action: 'create' };
  if (lease.holder === identity) return { action: 'renew' };
  const seenSinceMs = observed?.record === lease.record ? observed.atMs : nowMs;
  const expired = lease.holder === '' || seenSinceMs + lease.durationMs <= nowMs;
  return expired
    ? { action: 'take', transitions: lease.transitions + 1 }
    : { action: 'wait', holder: lease.holder };
}

export type LeaderElectorOptions = {
  readonly kubeConfig: KubeConfig;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly namespace: string;
  readonly name: string;
  /** Unique per process: pod name plus a random suffix. */
  readonly identity: string;
  readonly timing?: LeaseTiming;
  readonly onStartedLeading: () => void;
  /** Called once when leadership is lost (not on a clean stop); the process should exit. */
  readonly onStoppedLeading: () => void;
};

export class LeaderElector {
  readonly #o: LeaderElectorOptions;
  readonly #api: CoordinationV1Api;
  readonly #timing: LeaseTiming;
  #leading = false;
  #stopped = false;
  #lastRenewMs = 0;
  #attempts = 0;
  #observed: Observation | undefined;
  #loop: Promise<void> | undefined;
  #cancelSleep: (() => void) | undefined;

  constructor(o: LeaderElectorOptions) {
    this.#o = o;
    this.#api = o.kubeConfig.makeApiClient(CoordinationV1Api);
    this.#timing = o.timing ?? DEFAULT_LEASE_TIMING;
    const t = this.#timing;
    if (
      !(t.retryPeriodMs > 0 && t.renewDeadlineMs > t.retryPeriodMs && t.leaseDurationMs > t.renewDeadlineMs)
    ) {
      throw new RangeError('leader election: need leaseDuration > renewDeadline > retryPeriod > 0');
    }
  }

  get leading(): boolean {
    return this.#leading;
  }

  /** How many times it has read the lease and decided (proof for a test that it kept trying). */
  get attempts(): number {
    return this.#attempts;
  }

  start(): void {
    this.#loop ??= this.#run();
  }

  /** Stops trying; a leader releases the lease so that another replica takes over at once. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#cancelSleep?.();
    await this.#loop;
    if (this.#leading) {
      this.#leading = false;
      await this.#release().catch((e: unknown) =>
        this.#o.logger.warn({ err: errorText(e) }, 'leader election: lease not released'),
      );
    }
  }

  async #run(): Promise<void> {
    const log = this.#o.logger;
    while (!this.#stopped) {
      let renewed = false;
      try {
        renewed = await this.#tryAcquireOrRenew();
      } catch (e) {
        log.warn({ err: errorText(e), leading: this.#leading }, 'leader election: lease not written');
      }
      this.#attempts += 1;
      if (this.#stopped) return;
      const now = this.#o.clock.nowMs();
      if (renewed) {
        this.#lastRenewMs = now;
        if (!this.#leading) {
          this.#leading = true;
          log.info({ lease: `${this.#o.namespace}/${this.#o.name}`, identity: this.#o.identity }, 'leading');
          this.#o.onStartedLeading();
        }
      } else if (this.#leading && now - this.#lastRenewMs >= this.#timing.renewDeadlineMs) {
        this.#leading = false;
        log.error({ lease: `${this.#o.namespace}/${this.#o.name}` }, 'leader election: leadership lost');
        this.#o.onStoppedLeading();
        return;
      }
      await this.#pause(this.#timing.retryPeriodMs);
    }
  }

  /** Waits `ms`, or less when stop() is called. */
  #pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = this.#o.clock.setTimer(done, ms);
      function done(): void {
        timer.cancel();
        resolve();
      }
      this.#cancelSleep = done;
    });
  }

  /** True when this process holds the lease after the call. */
  async #tryAcquireOrRenew(): Promise<boolean> {
    const { namespace, name, identity } = this.#o;
    let lease: V1Lease | undefined;
    try {
      lease = await this.#api.readNamespacedLease({ namespace, name });
    } catch (e) {
      if (statusOf(e) !== 404) throw e;
    }
    const now = this.#o.clock.nowMs();
    const seen = lease === undefined ? undefined : view(lease);
    this.#observed = observe(this.#observed, seen, now);
    const decision = leaseDecision(seen, identity, this.#observed, now);
    if (decision.action === 'wait') return false;
    const durationSeconds = Math.ceil(this.#timing.leaseDurationMs / 1000);
    const renewTime = new V1MicroTime(now);
    try {
      if (decision.action === 'create') {
        await this.#api.createNamespacedLease({
          namespace,
          body: {
            metadata: { name, namespace },
            spec: {
              holderIdentity: identity,
              leaseDurationSeconds: durationSeconds,
              acquireTime: renewTime,
              renewTime,
              leaseTransitions: 0,
            },
          },
        });
        return true;
      }
      const spec = lease?.spec ?? {};
      await this.#api.replaceNamespacedLease({
        namespace,
        name,
        body: {
          ...lease,
          spec: {
            ...spec,
            holderIdentity: identity,
            leaseDurationSeconds: durationSeconds,
            renewTime,
            ...(decision.action === 'take'
              ? { acquireTime: renewTime, leaseTransitions: decision.transitions }
              : {}),
          },
        },
      });
      return true;
    } catch (e) {
      // Someone else wrote it between our read and write: they won this round.
      if (statusOf(e) === 409) return false;
      throw e;
    }
  }

  async #release(): Promise<void> {
    const { namespace, name, identity } = this.#o;
    const lease = await this.#api.readNamespacedLease({ namespace, name });
    if (lease.spec?.holderIdentity !== identity) return;
    await this.#api.replaceNamespacedLease({
      namespace,
      name,
      body: { ...lease, spec: { ...lease.spec, holderIdentity: '' } },
    });
    this.#o.logger.info({ lease: `${namespace}/${name}` }, 'leader election: lease released');
  }
}

function view(lease: V1Lease): LeaseView {
  const holder = lease.spec?.holderIdentity ?? '';
  const renew = lease.spec?.renewTime;
  const renewText = renew === undefined ? '' : String(new Date(renew).getTime());
  return {
    holder,
    durationMs: (lease.spec?.leaseDurationSeconds ?? 0) * 1000,
    transitions: lease.spec?.leaseTransitions ?? 0,
    record: JSON.stringify([holder, renewText, lease.metadata?.resourceVersion ?? '']),
  };
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
