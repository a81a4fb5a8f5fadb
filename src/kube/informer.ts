// A list+watch cache of one collection that never gives up.
//
// client-node's ListWatch lists, watches, and relists after 410 Gone, but on any other error
// (connection refused while the apiserver restarts, 404 while a CRD is not installed yet, 403,
// an exec credential plugin failing) it reports the error once and stops for good. This wrapper
// restarts it after every such error with capped exponential backoff on the injected Clock,
// forever, and logs each restart with the reason (never object contents). Its cache survives
// restarts: a restart resumes watching from the last resourceVersion, or relists (which also
// reports objects deleted in the meantime) when that version is too old.
//
// The routine end of a watch is no error: ListWatch (2.0.1) resumes from the last resourceVersion
// by itself when the server ends a watch or the client's inactivity timeout fires, without a
// list and without reporting anything. Only a 410 Gone relists, and a relist reports an object
// as updated only if its resourceVersion changed. Watch timeouts: see watch.ts.
import {
  type KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
  ListWatch,
  type Watch,
} from '@kubernetes/client-node';
import type { Logger } from 'pino';
import {
  type BackoffPolicy,
  backoffDelay,
  DEFAULT_INFORMER_BACKOFF,
  validateBackoff,
} from '../runtime/backoff.ts';
import { type Clock, sleep, type Timer } from '../runtime/clock.ts';
import {
  DEFAULT_WATCH_TIMEOUTS,
  describeError,
  describeWatchEnd,
  TimedWatch,
  type WatchEnd,
  type WatchTimeouts,
  watchEnd,
} from './watch.ts';

export type ChangeKind = 'add' | 'update' | 'delete';

export type ChangeListener<T> = (obj: T, kind: ChangeKind) => void;

export interface ListSelectors {
  readonly labelSelector?: string;
  readonly fieldSelector?: string;
  /** Set when the informer lists in pages (listPageSize): the page size and where to go on. */
  readonly limit?: number;
  readonly _continue?: string;
}

export interface ResilientInformerOptions<T extends KubernetesObject> {
  readonly kubeConfig: KubeConfig;
  /**
   * The collection to watch, e.g. `/api/v1/namespaces/team-a/configmaps` or
   * `/apis/btpcerts.io/v1alpha1/btpcertificates` (all namespaces).
   */
  readonly path: string;
  /** Lists the same collection, applying the selectors it is given (the informer's own, and paging). */
  readonly list: (selectors: ListSelectors) => Promise<KubernetesListObject<T>>;
  readonly labelSelector?: string;
  readonly fieldSelector?: string;
  readonly clock: Clock;
  readonly logger?: Logger;
  /** Delays between restarts. Default DEFAULT_INFORMER_BACKOFF (1 s doubling to 30 s). */
  readonly backoff?: BackoffPolicy;
  /** Once a (re)start has gone this long without an error, the backoff starts over. Default 2 × maxMs. */
  readonly backoffResetMs?: number;
  /** Source of jitter, in [0, 1). */
  readonly random?: () => number;
  /** The client's inactivity timeout and the server-side end of each watch. */
  readonly watchTimeouts?: WatchTimeouts;
  /** Name in log lines; default: the path. */
  readonly name?: string;
  /**
   * What the cache keeps of a listed or watched object: a (smaller) copy, or undefined to keep
   * nothing of it and report no change for it (an object cached before is deleted from the cache).
   * Default: the object as it is.
   */
  readonly admit?: (obj: T) => T | undefined;
  /**
   * List in pages of this many objects, each passed through `admit` before the next is asked for,
   * so that a (re)list holds at most one page of whole objects. Default: one request.
   */
  readonly listPageSize?: number;
}

type State = 'new' | 'running' | 'stopped';

/** Decides whether ListWatch may open a watch, and learns that a list has been applied. */
interface WatchGate {
  /** Called right before every watch; false refuses it (the informer was stopped). */
  beforeWatch(): boolean;
  /** A watch (or its setup) failed outside ListWatch's own error handling. */
  failed(error: unknown): void;
  /** A watch ended (ListWatch decides what follows). */
  ended(end: WatchEnd): void;
}

/** Name, namespace and resourceVersion of an object: enough for ListWatch to delete it and move on. */
function identity(obj: KubernetesObject): KubernetesObject {
  const m = obj.metadata ?? {};
  return {
    metadata: {
      ...(m.name === undefined ? {} : { name: m.name }),
      ...(m.namespace === undefined ? {} : { namespace: m.namespace }),
      ...(m.resourceVersion === undefined ? {} : { resourceVersion: m.resourceVersion }),
    },
  };
}

/**
 * The Watch that ListWatch is built with. ListWatch opens a watch only after a list has been
 * applied to its cache (or when resuming from a resourceVersion that came from one), so the
 * first watch marks the cache as synced. It also asks for bookmarks (fresher resourceVersions,
 * fewer relists), turns a throwing watch setup (e.g. a credential plugin failing), which
 * ListWatch does not handle, into an ordinary error, and passes on only what `admit` keeps of
 * each object: an object it keeps nothing of reaches ListWatch as a delete of its name (which
 * drops it if it was cached, reports nothing otherwise, and still advances the resourceVersion).
 */
class GatedWatch<T extends KubernetesObject> extends TimedWatch {
  readonly #gate: WatchGate;
  readonly #admit: ((obj: T) => T | undefined) | undefined;

  constructor(
    kc: KubeConfig,
    gate: WatchGate,
    timeouts: WatchTimeouts,
    random: () => number,
    admit: ((obj: T) => T | undefined) | undefined,
  ) {
    super(kc, timeouts, random);
    this.#gate = gate;
    this.#admit = admit;
  }

  #filter(phase: string, obj: T): [string, unknown] {
    const admit = this.#admit;
    if (admit === undefined || (phase !== 'ADDED' && phase !== 'MODIFIED' && phase !== 'DELETED'))
      return [phase, obj];
    const kept = admit(obj);
    return kept === undefined ? ['DELETED', identity(obj)] : [phase, kept];
  }

  override async watch(
    ...[path, params, callback, done]: Parameters<Watch['watch']>
  ): Promise<AbortController> {
    if (!this.#gate.beforeWatch()) return new AbortController();
    let errorEvent: unknown;
    const onEvent: typeof callback = (phase, obj, watchObj) => {
      if (phase === 'ERROR') errorEvent = obj;
      const [passed, kept] = this.#filter(phase, obj as T);
      callback(passed, kept, watchObj);
    };
    const onDone: typeof done = (error) => {
      this.#gate.ended(watchEnd(error, errorEvent));
      done(error);
    };
    try {
      return await super.watch(path, params, onEvent, onDone);
    } catch (error) {
      this.#gate.failed(error);
      return new AbortController();
    }
  }
}

/**
 * The whole collection as one list, asked for in pages of `pageSize` (one request when undefined);
 * each page's objects go through `admit` before the next page is asked for. Pages of one list
 * are one consistent snapshot, whose resourceVersion the list carries.
 */
async function listAll<T extends KubernetesObject>(
  list: (selectors: ListSelectors) => Promise<KubernetesListObject<T>>,
  selectors: ListSelectors,
  admit: ((obj: T) => T | undefined) | undefined,
  pageSize: number | undefined,
): Promise<KubernetesListObject<T>> {
  const items: T[] = [];
  let next: string | undefined;
  for (;;) {
    const page = await list({
      ...selectors,
      ...(pageSize === undefined ? {} : { limit: pageSize }),
      ...(next === undefined ? {} : { _continue: next }),
    });
    for (const obj of page.items) {
      const kept = admit === undefined ? obj : admit(obj);
      if (kept !== undefined) items.push(kept);
    }
    next = page.metadata?._continue;
    if (pageSize === undefined || next === undefined || next === '') {
      const { _continue: _, ...metadata } = page.metadata ?? {};
      return { ...page, metadata, items };
    }
  }
}

export class ResilientInformer<T extends KubernetesObject> {
  readonly #clock: Clock;
  readonly #logger: Logger | undefined;
  readonly #backoff: BackoffPolicy;
  readonly #backoffResetMs: number;
  readonly #random: () => number;
  readonly #name: string;
  readonly #lw: ListWatch<T>;
  readonly #watch: GatedWatch<T>;
  readonly #listeners = new Set<ChangeListener<T>>();
  readonly #syncWaiters = new Set<{ resolve: () => void; reject: (e: Error) => void }>();
  readonly #sleeps = new Set<() => void>();

  #state: State = 'new';
  #synced = false;
  #restartTimer: Timer | undefined;
  #lastStartMs = 0;
  #failures = 0;
  #restarts = 0;
  #lastError: string | undefined;

  constructor(options: ResilientInformerOptions<T>) {
    this.#clock = options.clock;
    this.#logger = options.logger;
    this.#backoff = validateBackoff(options.backoff ?? DEFAULT_INFORMER_BACKOFF);
    this.#backoffResetMs = options.backoffResetMs ?? 2 * this.#backoff.maxMs;
    this.#random = options.random ?? Math.random;
    this.#name = options.name ?? options.path;

    const selectors: ListSelectors = {
      ...(options.labelSelector === undefined ? {} : { labelSelector: options.labelSelector }),
      ...(options.fieldSelector === undefined ? {} : { fieldSelector: options.fieldSelector }),
    };
    const gate: WatchGate = {
      beforeWatch: () => {
        if (this.#state !== 'running') return false;
        this.#markSynced();
        return true;
      },
      failed: (error) => this.#onError(error),
      ended: (end) => {
        // Failures reach #onError through ListWatch; routine ends are worth a debug line.
        if (this.#state !== 'running' || end.kind === 'failed') return;
        this.#logger?.[end.kind === 'expired' ? 'info' : 'debug'](
          { informer: this.#name, reason: describeWatchEnd(end, timeouts) },
          end.kind === 'expired' ? 'watch resourceVersion expired; relisting' : 'watch ended; resuming',
        );
      },
    };
    const timeouts = options.watchTimeouts ?? DEFAULT_WATCH_TIMEOUTS;
    const admit = options.admit;
    this.#watch = new GatedWatch<T>(options.kubeConfig, gate, timeouts, this.#random, admit);
    this.#lw = new ListWatch<T>(
      options.path,
      this.#watch,
      () => listAll(options.list, selectors, admit, options.listPageSize),
      false,
      options.labelSelector,
      options.fieldSelector,
      { delayFn: (ms) => this.#sleep(ms) },
    );
    this.#lw.on('add', (obj) => this.#emit(obj, 'add'));
    this.#lw.on('update', (obj) => this.#emit(obj, 'update'));
    this.#lw.on('delete', (obj) => this.#emit(obj, 'delete'));
    this.#lw.on('error', (error?: unknown) => this.#onError(error));
  }

  /** Starts listing and watching; returns at once (see whenSynced). An informer starts once. */
  start(): void {
    if (this.#state === 'stopped') throw new Error(`informer ${this.#name}: cannot start after stop`);
    if (this.#state === 'running') return;
    this.#state = 'running';
    this.#launch();
  }

  /** Stops watching and cancels any pending restart. The cache keeps its last content. */
  async stop(): Promise<void> {
    if (this.#state === 'stopped') return;
    this.#state = 'stopped';
    this.#restartTimer?.cancel();
    this.#restartTimer = undefined;
    for (const cancel of this.#sleeps) cancel();
    this.#sleeps.clear();
    for (const waiter of this.#syncWaiters)
      waiter.reject(new Error(`informer ${this.#name} stopped before it synced`));
    this.#syncWaiters.clear();
    // Aborting the watch makes ListWatch report an AbortError, which #onError ignores now.
    await this.#lw.stop();
  }

  /** True once the first list has been applied to the cache. */
  hasSynced(): boolean {
    return this.#synced;
  }

  /** Resolves once the first list has been applied; rejects if the informer stops first. */
  whenSynced(): Promise<void> {
    if (this.#synced) return Promise.resolve();
    if (this.#state === 'stopped') return Promise.reject(new Error(`informer ${this.#name} is stopped`));
    return new Promise((resolve, reject) => this.#syncWaiters.add({ resolve, reject }));
  }

  /** Cached objects, of one namespace if given. Shared with the cache: do not mutate. */
  list(namespace?: string): readonly T[] {
    return this.#lw.list(namespace);
  }

  /** A cached object; namespace '' for cluster-scoped objects. Shared with the cache: do not mutate. */
  get(namespace: string, name: string): T | undefined {
    return this.#lw.get(name, namespace);
  }

  /**
   * Calls `listener` for every change applied to the cache (including the adds of the first
   * list, and the deletes a relist discovers). Returns a function that unsubscribes.
   */
  onChange(listener: ChangeListener<T>): () => void {
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  }

  /** Restarts after errors so far. */
  get restarts(): number {
    return this.#restarts;
  }

  /** Watches opened so far: the first, and one after each end of a watch (of any kind). */
  get watches(): number {
    return this.#watch.opened;
  }

  /** Consecutive errors counted towards the current backoff. */
  get failures(): number {
    return this.#failures;
  }

  /** Reason of the last error (status code or error code, never a body), for health reporting. */
  get lastError(): string | undefined {
    return this.#lastError;
  }

  #launch(): void {
    this.#lastStartMs = this.#clock.nowMs();
    this.#lw.start().catch((error: unknown) => this.#onError(error));
  }

  #onError(error: unknown): void {
    if (this.#state !== 'running' || this.#restartTimer !== undefined) return;
    const now = this.#clock.nowMs();
    if (now - this.#lastStartMs >= this.#backoffResetMs) this.#failures = 0;
    this.#failures += 1;
    const delayMs = backoffDelay(this.#backoff, this.#failures, this.#random);
    const reason = describeError(error);
    // The same reason again (a CRD that is not installed, say) is worth a warning once, not every 30 s.
    const repeated = reason === this.#lastError;
    this.#lastError = reason;
    this.#logger?.[repeated ? 'debug' : 'warn'](
      {
        informer: this.#name,
        reason,
        failures: this.#failures,
        restartInMs: delayMs,
        restarts: this.#restarts,
      },
      'informer stopped on an error; restarting',
    );
    this.#restartTimer = this.#clock.setTimer(() => {
      this.#restartTimer = undefined;
      if (this.#state !== 'running') return;
      this.#restarts += 1;
      this.#logger?.debug({ informer: this.#name, restarts: this.#restarts }, 'informer restarting');
      this.#launch();
    }, delayMs);
  }

  #markSynced(): void {
    if (this.#synced) return;
    this.#synced = true;
    this.#logger?.debug({ informer: this.#name, objects: this.#lw.list().length }, 'informer synced');
    for (const waiter of this.#syncWaiters) waiter.resolve();
    this.#syncWaiters.clear();
  }

  #emit(obj: T, kind: ChangeKind): void {
    for (const listener of this.#listeners) {
      try {
        listener(obj, kind);
      } catch (error) {
        // A throwing listener must not break ListWatch's loop (it would skip the rest of a list).
        this.#logger?.error(
          { informer: this.#name, kind, reason: describeError(error) },
          'informer change listener threw',
        );
      }
    }
  }

  /** ListWatch's pause between reconnects after a watch ends normally, on our clock. */
  #sleep(ms: number): Promise<void> {
    // Once stopped, the pause never ends and the (stopped) ListWatch loop is simply dropped.
    if (this.#state === 'stopped') return new Promise<void>(() => {});
    const { promise, cancel } = sleep(this.#clock, ms);
    this.#sleeps.add(cancel);
    return promise.finally(() => this.#sleeps.delete(cancel));
  }
}
