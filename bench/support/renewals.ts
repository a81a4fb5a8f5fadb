// The renewal part of the scale benchmark: each BTPCertificate's first certificate (from its
// status) and when the status first showed the next one, and what that says about the wave.
import { percentile } from './parallel.ts';
import type { Observed } from './readiness.ts';

type Validity = { readonly notBefore: number; readonly notAfter: number; readonly renewalTime: number };
type Renewal = { readonly first: Validity; readonly servedAtMs: number };

/** A renewal served this close to its certificate's expiry, or closer, misses the target. */
const TOO_CLOSE = 0.1;

function validityOf(status: Observed['status']): Validity | undefined {
  const notBefore = Date.parse(status?.notBefore ?? '');
  const notAfter = Date.parse(status?.notAfter ?? '');
  const renewalTime = Date.parse(status?.renewalTime ?? '');
  return Number.isNaN(notBefore) || Number.isNaN(notAfter) ? undefined : { notBefore, notAfter, renewalTime };
}

export class RenewalLog {
  readonly #first = new Map<string, Validity>();
  readonly #renewed = new Map<string, Renewal>();

  /** A watched object at `atMs` (epoch ms): its first certificate, or its first renewal once. */
  observe(obj: Observed, atMs: number): void {
    const name = obj.metadata?.name;
    const validity = validityOf(obj.status);
    if (name === undefined || validity === undefined || this.#renewed.has(name)) return;
    const first = this.#first.get(name);
    if (first === undefined) this.#first.set(name, validity);
    else if (validity.notAfter !== first.notAfter) this.#renewed.set(name, { first, servedAtMs: atMs });
  }

  get renewedCount(): number {
    return this.#renewed.size;
  }

  /** The spread of the renewals and how close to expiry they came; `startMs`: the wave's start. */
  summary(startMs: number): Record<string, unknown> {
    const renewals = [...this.#renewed.values()];
    const lifetime = (r: Renewal) => r.first.notAfter - r.first.notBefore;
    const fraction = (r: Renewal) => (r.servedAtMs - r.first.notBefore) / lifetime(r);
    const margin = (r: Renewal) => (r.first.notAfter - r.servedAtMs) / lifetime(r);
    const late = renewals
      .map((r) => (r.servedAtMs - r.first.renewalTime) / 1000)
      .filter((s) => !Number.isNaN(s))
      .sort((a, b) => a - b);
    const served = renewals.map((r) => (r.servedAtMs - startMs) / 1000).sort((a, b) => a - b);
    const margins = renewals.map(margin);
    const round = (x: number) => Math.round(x * 1000) / 1000;
    return {
      renewed: renewals.length,
      lifetimeSeconds: [...new Set(renewals.map((r) => lifetime(r) / 1000))].sort((a, b) => a - b),
      servedAtShareOfLifetime: shareHistogram(renewals.map(fraction)),
      servedAtSecondsSinceStart: timeHistogram(served),
      secondsAfterRenewalTime: {
        p50: round(percentile(late, 0.5)),
        p95: round(percentile(late, 0.95)),
        max: round(late.at(-1) ?? Number.NaN),
      },
      busiestMinuteOfRenewals: busiestWindow(
        served.map((s) => s * 1000),
        60_000,
      ),
      withinTenPercentOfExpiry: margins.filter((m) => m <= TOO_CLOSE).length,
      smallestMarginShareOfLifetime: round(Math.min(...margins)),
    };
  }
}

/** Shares of the lifetime in 10 buckets of 0.05 from 0.5 (the first and last open-ended). */
function shareHistogram(shares: readonly number[]): Record<string, number> {
  const buckets: Record<string, number> = {};
  for (let i = 0; i < 10; i++) {
    const from = 0.5 + i * 0.05;
    const label = i === 0 ? '<0.55' : i === 9 ? '>=0.95' : `${from.toFixed(2)}-${(from + 0.05).toFixed(2)}`;
    buckets[label] = shares.filter((s) => {
      const bucket = Math.min(9, Math.max(0, Math.floor((s - 0.5) / 0.05 + 1e-9)));
      return bucket === i;
    }).length;
  }
  return buckets;
}

/** Times (seconds, ascending) in 10 equal buckets from the first to the last. */
function timeHistogram(times: readonly number[]): Record<string, number> {
  const first = times[0];
  const last = times.at(-1);
  if (first === undefined || last === undefined) return {};
  const width = Math.max((last - first) / 10, 0.001);
  const buckets: Record<string, number> = {};
  for (let i = 0; i < 10; i++) {
    const from = first + i * width;
    buckets[`${from.toFixed(1)}-${(from + width).toFixed(1)}s`] = times.filter(
      (t) => Math.min(9, Math.floor((t - first) / width)) === i,
    ).length;
  }
  return buckets;
}

/** The most arrivals within any window of `windowMs` (times in ms, oldest first). */
export function busiestWindow(times: readonly number[], windowMs: number): number {
  let most = 0;
  let from = 0;
  for (let to = 0; to < times.length; to++) {
    while ((times[to] ?? 0) - (times[from] ?? 0) >= windowMs) from++;
    most = Math.max(most, to - from + 1);
  }
  return most;
}
