// The scheduler between "something may have changed" and "reconcile this key". It holds
// `namespace/name` keys, never events, and owns every timer of the controller:
// - dedupe: a key is queued at most once; the earliest due time wins;
// - one run per key at a time; a key added while it runs is run once more right after;
// - a global concurrency cap, shared fairly across namespaces (the part of a key before '/'): a
//   free worker goes to the namespace with due keys that has the fewest runs in progress, and
//   namespaces with as many take turns; within a namespace, due keys run in order of due time
//   (FIFO among equal times). One namespace alone may use every worker, but a key of another
//   namespace waits at most for the first run to end;
// - success resets the key's failures; requeue(ms) is capped at the resync period, and
//   awaitChange() still brings the key back after the resync period;
// - retryable errors back off per key (capped, jittered); terminal errors are logged and wait
//   for the periodic resync (or a change, which adds the key again).

import type { Logger } from 'pino';
import { type Action, isRequeue } from './action.ts';
import { type BackoffPolicy, backoffDelay, DEFAULT_RECONCILE_BACKOFF, validateBackoff } from './backoff.ts';
import type { Clock, Timer } from './clock.ts';
import { errorCode, isCatalogued, isRetryable } from './errors.ts';
import { MinHeap } from './heap.ts';

/**
 * 16: cold issuance of 1,000 certificates on the 2-core test machine reached all Ready in 7.7-12.4 s
 * (0.40-0.63 of the API server limit of the same run) against 8.2-13.1 s (0.31-0.57) with 4, at the
 * same CPU per certificate (docs/development/scale.md): a reconcile mostly waits on the API server.
 */
export const DEFAULT_CONCURRENCY = 16;
export const DEFAULT_RESYNC_MS = 10 * 60_000;

/** How one run ended: the Action the handler returned, or the kind of error it threw. */
export type RunOutcome = 'requeue' | 'awaitChange' | 'retry' | 'terminal';

export const RUN_OUTCOMES: readonly RunOutcome[] = ['requeue', 'awaitChange', 'retry', 'terminal'];

export interface RunResult {
  readonly key: string;
  readonly outcome: RunOutcome;
  readonly durationMs: number;
  /** How long the key waited for a worker after it was due. */
  readonly waitMs: number;
  /** Error code (see errors.ts) when the run threw. */
  readonly errorCode?: string;
  readonly error?: unknown;
  /** Consecutive retryable failures of this key after this run (0 after a success). */
  readonly failures: number;
  /** When the key is due next, from this run's outcome alone; undefined if it was forgotten. */
  readonly nextRunInMs?: number;
}

export interface WorkQueueOptions {
  readonly clock: Clock;
  readonly handler: (key: string) => Promise<Action>;
  /** Most handler runs at once, across all keys. */
  readonly concurrency?: number;
  /** Every known key runs at least this often; every delay is capped at it. */
  readonly resyncMs?: number;
  readonly backoff?: BackoffPolicy;
  readonly logger?: Logger;
  /** Source of jitter, in [0, 1) like Math.random. */
  readonly random?: () => number;
  /** Called after every run (metrics). Must not throw; exceptions are logged and ignored. */
  readonly onResult?: (result: RunResult) => void;
}

/** What the queue knows about one key, for tests and debugging. */
export interface KeyState {
  readonly queued: boolean;
  /** Absolute due time (clock ms) if queued. */
  readonly dueMs?: number;
  readonly running: boolean;
  /** Added while running: it runs again right after (at the earliest of the adds). */
  readonly rerunDueMs?: number;
  readonly failures: number;
}

interface Entry {
  readonly key: string;
  /** Due time while queued (not running); undefined when not queued. */
  dueMs: number | undefined;
  /** Identifies the live heap item of this entry; older items for it are stale. */
  ticket: number;
  running: boolean;
  /** Earliest due time of the adds received while running. */
  rerunDueMs: number | undefined;
  /** forget() was called while running: drop the key when the run ends. */
  forgotten: boolean;
  failures: number;
}

interface HeapItem {
  readonly dueMs: number;
  readonly ticket: number;
  readonly entry: Entry;
}

/** The namespace of a `namespace/name` key: what the workers are shared fairly between. */
const namespaceOf = (key: string): string => {
  const slash = key.indexOf('/');
  return slash < 0 ? '' : key.slice(0, slash);
};

type State = 'new' | 'running' | 'stopped';

export class WorkQueue {
  readonly #clock: Clock;
  readonly #handler: (key: string) => Promise<Action>;
  readonly #concurrency: number;
  readonly #resyncMs: number;
  readonly #backoff: BackoffPolicy;
  readonly #logger: Logger | undefined;
  readonly #random: () => number;
  readonly #onResult: ((result: RunResult) => void) | undefined;

  readonly #entries = new Map<string, Entry>();
  readonly #heap = new MinHeap<HeapItem>(
    (a, b) => a.dueMs < b.dueMs || (a.dueMs === b.dueMs && a.ticket < b.ticket),
  );
  readonly #running = new Set<Promise<void>>();
  /**
   * Due keys, by namespace, in due order; a namespace is here only while it has some. Map order is
   * the turn order: a namespace goes to the back when it is served.
   */
  readonly #ready = new Map<string, HeapItem[]>();
  /** Runs in progress by namespace (absent: none). */
  readonly #runningIn = new Map<string, number>();
  readonly #counts: Record<RunOutcome, number> = { requeue: 0, awaitChange: 0, retry: 0, terminal: 0 };
  #nextTicket = 0;
  #timer: Timer | undefined;
  #timerDueMs = Number.POSITIVE_INFINITY;
  #state: State = 'new';

  constructor(options: WorkQueueOptions) {
    this.#clock = options.clock;
    this.#handler = options.handler;
    this.#concurrency = options.concurrency ?? DEFAULT_CONCURRENCY;
    this.#resyncMs = options.resyncMs ?? DEFAULT_RESYNC_MS;
    this.#backoff = validateBackoff(options.backoff ?? DEFAULT_RECONCILE_BACKOFF);
    this.#logger = options.logger;
    this.#random = options.random ?? Math.random;
    this.#onResult = options.onResult;
    if (!Number.isInteger(this.#concurrency) || this.#concurrency < 1) {
      throw new RangeError(`WorkQueue: concurrency must be a positive integer, got ${this.#concurrency}`);
    }
    if (!(this.#resyncMs > 0) || !Number.isFinite(this.#resyncMs)) {
      throw new RangeError(`WorkQueue: resyncMs must be a positive finite number, got ${this.#resyncMs}`);
    }
  }

  /** Known keys: queued, running, or both. */
  get size(): number {
    return this.#entries.size;
  }

  /** Handler runs in progress. */
  get inFlight(): number {
    return this.#running.size;
  }

  /** Keys due and waiting for a worker (not those running, nor those due later). */
  get waiting(): number {
    const now = this.#clock.nowMs();
    let n = 0;
    for (const e of this.#entries.values()) if (e.dueMs !== undefined && e.dueMs <= now) n += 1;
    return n;
  }

  /** Runs so far, by outcome (a snapshot). */
  get counts(): Readonly<Record<RunOutcome, number>> {
    return { ...this.#counts };
  }

  get resyncMs(): number {
    return this.#resyncMs;
  }

  inspect(key: string): KeyState | undefined {
    const e = this.#entries.get(key);
    if (e === undefined) return undefined;
    return {
      queued: e.dueMs !== undefined,
      ...(e.dueMs === undefined ? {} : { dueMs: e.dueMs }),
      running: e.running,
      ...(e.rerunDueMs === undefined ? {} : { rerunDueMs: e.rerunDueMs }),
      failures: e.failures,
    };
  }

  /**
   * Schedules `key` to run `afterMs` from now (capped at the resync period). If it is already
   * queued, the earlier of the two due times wins. If it is running, it runs again after the
   * current run, at the earliest time any add asked for. Ignored once stopped.
   */
  add(key: string, afterMs = 0): void {
    if (this.#state === 'stopped') return;
    const dueMs = this.#clock.nowMs() + this.#cap(afterMs);
    let entry = this.#entries.get(key);
    if (entry === undefined) {
      entry = {
        key,
        dueMs: undefined,
        ticket: -1,
        running: false,
        rerunDueMs: undefined,
        forgotten: false,
        failures: 0,
      };
      this.#entries.set(key, entry);
    }
    if (entry.running) {
      entry.forgotten = false;
      entry.rerunDueMs = entry.rerunDueMs === undefined ? dueMs : Math.min(entry.rerunDueMs, dueMs);
      return;
    }
    this.#schedule(entry, dueMs);
    this.#pump();
  }

  /**
   * Drops `key`: no further runs, no resync, failures forgotten. A run in progress finishes, and
   * the key is dropped when it ends, unless it is added again in the meantime.
   */
  forget(key: string): void {
    const entry = this.#entries.get(key);
    if (entry === undefined) return;
    if (entry.running) {
      entry.forgotten = true;
      entry.rerunDueMs = undefined;
      return;
    }
    this.#entries.delete(key);
    entry.dueMs = undefined; // its heap item is now stale
  }

  start(): void {
    if (this.#state === 'stopped') throw new Error('WorkQueue: cannot start after stop');
    if (this.#state === 'running') return;
    this.#state = 'running';
    this.#pump();
  }

  /** Stops dispatching and resolves when the runs in progress have finished. */
  async stop(): Promise<void> {
    this.#state = 'stopped';
    this.#timer?.cancel();
    this.#timer = undefined;
    this.#timerDueMs = Number.POSITIVE_INFINITY;
    await Promise.all(this.#running);
  }

  #cap(ms: number): number {
    if (Number.isNaN(ms) || ms <= 0) return 0;
    return Math.min(ms, this.#resyncMs);
  }

  /** Queues `entry` at `dueMs` unless it is already queued at an earlier or equal time. */
  #schedule(entry: Entry, dueMs: number): void {
    if (entry.dueMs !== undefined && entry.dueMs <= dueMs) return;
    entry.dueMs = dueMs;
    entry.ticket = this.#nextTicket++;
    this.#heap.push({ dueMs, ticket: entry.ticket, entry });
  }

  /** Whether `item` still stands for its entry's place in the queue (not rescheduled or forgotten). */
  #live(item: HeapItem): boolean {
    const e = item.entry;
    return e.dueMs !== undefined && e.ticket === item.ticket && this.#entries.get(e.key) === e;
  }

  /** The earliest live heap item, dropping stale ones. */
  #peek(): HeapItem | undefined {
    for (;;) {
      const top = this.#heap.peek();
      if (top === undefined) return undefined;
      if (this.#live(top)) return top;
      this.#heap.pop();
    }
  }

  /** Moves every due key from the heap to its namespace's ready list, in due order. */
  #collectDue(now: number): void {
    for (;;) {
      const top = this.#peek();
      if (top === undefined || top.dueMs > now) return;
      this.#heap.pop();
      const ns = namespaceOf(top.entry.key);
      const list = this.#ready.get(ns);
      if (list === undefined) this.#ready.set(ns, [top]);
      else list.push(top);
    }
  }

  /**
   * The next due key to run: of the namespace with the fewest runs in progress, the one whose turn
   * came first among equals. The namespace goes to the back of the turn order.
   */
  #nextReady(): HeapItem | undefined {
    let chosen: string | undefined;
    let fewest = Number.POSITIVE_INFINITY;
    for (const [ns, list] of this.#ready) {
      while (list.length > 0 && !this.#live(list[0] as HeapItem)) list.shift();
      if (list.length === 0) {
        this.#ready.delete(ns);
        continue;
      }
      const running = this.#runningIn.get(ns) ?? 0;
      if (running < fewest) {
        chosen = ns;
        fewest = running;
      }
    }
    if (chosen === undefined) return undefined;
    const list = this.#ready.get(chosen) as HeapItem[];
    const item = list.shift();
    this.#ready.delete(chosen);
    if (list.length > 0) this.#ready.set(chosen, list);
    return item;
  }

  /** Starts every due key the cap allows, then arms the timer for the next one. */
  #pump(): void {
    if (this.#state !== 'running') return;
    this.#collectDue(this.#clock.nowMs());
    while (this.#running.size < this.#concurrency) {
      const item = this.#nextReady();
      if (item === undefined) break;
      this.#run(item.entry);
    }
    this.#arm();
  }

  #arm(): void {
    // Keys already due wait in the ready lists for the end of a run, which pumps again.
    const top = this.#peek();
    const wanted = top === undefined ? Number.POSITIVE_INFINITY : top.dueMs;
    if (wanted === this.#timerDueMs) return;
    this.#timer?.cancel();
    this.#timer = undefined;
    this.#timerDueMs = wanted;
    if (wanted === Number.POSITIVE_INFINITY) return;
    this.#timer = this.#clock.setTimer(() => {
      this.#timer = undefined;
      this.#timerDueMs = Number.POSITIVE_INFINITY;
      this.#pump();
    }, wanted - this.#clock.nowMs());
  }

  #run(entry: Entry): void {
    const now = this.#clock.nowMs();
    const waitMs = Math.max(0, now - (entry.dueMs ?? now));
    entry.dueMs = undefined;
    entry.running = true;
    const ns = namespaceOf(entry.key);
    this.#runningIn.set(ns, (this.#runningIn.get(ns) ?? 0) + 1);
    const run = this.#execute(entry, waitMs)
      .catch((e: unknown) => {
        // Only a throwing logger gets here; the key must not be left marked as running.
        entry.running = false;
        this.#logger?.error({ key: entry.key, error: String(e) }, 'WorkQueue internal error');
      })
      .finally(() => {
        this.#running.delete(run);
        const left = (this.#runningIn.get(ns) ?? 1) - 1;
        if (left > 0) this.#runningIn.set(ns, left);
        else this.#runningIn.delete(ns);
        this.#pump();
      });
    this.#running.add(run);
  }

  async #execute(entry: Entry, waitMs: number): Promise<void> {
    const { key } = entry;
    const startedMs = this.#clock.nowMs();
    let outcome: RunOutcome;
    let delayMs: number;
    let error: unknown;
    let failed = false;
    try {
      const action = await this.#handler(key);
      if (isRequeue(action)) {
        outcome = 'requeue';
        delayMs = this.#cap(action.requeueAfterMs);
      } else {
        outcome = 'awaitChange';
        delayMs = this.#resyncMs;
      }
      entry.failures = 0;
    } catch (e) {
      failed = true;
      error = e;
      if (isRetryable(e)) {
        outcome = 'retry';
        entry.failures += 1;
        delayMs = this.#cap(backoffDelay(this.#backoff, entry.failures, this.#random));
      } else {
        outcome = 'terminal';
        entry.failures = 0;
        delayMs = this.#resyncMs;
      }
    }
    const durationMs = this.#clock.nowMs() - startedMs;
    this.#counts[outcome] += 1;
    entry.running = false;

    const forgotten = entry.forgotten;
    if (failed) this.#logFailure(key, outcome, error, entry.failures, forgotten ? undefined : delayMs);
    else this.#logger?.debug({ key, outcome, durationMs }, 'reconciled');

    if (forgotten) {
      this.#entries.delete(key);
    } else if (this.#state !== 'stopped') {
      const rerun = entry.rerunDueMs;
      entry.rerunDueMs = undefined;
      const dueMs = this.#clock.nowMs() + delayMs;
      this.#schedule(entry, rerun === undefined ? dueMs : Math.min(dueMs, rerun));
    }
    this.#report({
      key,
      outcome,
      durationMs,
      waitMs,
      failures: entry.failures,
      ...(failed ? { error, errorCode: errorCode(error) } : {}),
      ...(forgotten ? {} : { nextRunInMs: delayMs }),
    });
  }

  #logFailure(
    key: string,
    outcome: RunOutcome,
    error: unknown,
    failures: number,
    retryInMs: number | undefined,
  ): void {
    const logger = this.#logger;
    if (logger === undefined) return;
    // Catalogued errors promise a message free of secrets; unknown ones are bugs or library
    // errors and get their stack too. Nothing else of the error (bodies, headers) is logged.
    const detail = {
      key,
      code: errorCode(error),
      error: error instanceof Error ? error.message : String(error),
      ...(!isCatalogued(error) && error instanceof Error && error.stack !== undefined
        ? { stack: error.stack }
        : {}),
      ...(retryInMs === undefined ? {} : { nextRunInMs: retryInMs }),
    };
    if (outcome === 'retry') logger.warn({ ...detail, failures }, 'reconcile failed; will retry');
    else logger.error(detail, 'reconcile failed with a terminal error; not retried until a change or resync');
  }

  #report(result: RunResult): void {
    if (this.#onResult === undefined) return;
    try {
      this.#onResult(result);
    } catch (e) {
      this.#logger?.error(
        { error: e instanceof Error ? e.message : String(e) },
        'WorkQueue onResult hook threw',
      );
    }
  }
}
