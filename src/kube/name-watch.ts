// An uncached watch of a collection that only reports which objects changed (namespace/name).
// For source Secrets: the operator must notice their changes without caching every Secret of the
// cluster. Nothing is kept but the last resourceVersion. After any gap (the watch ended, failed,
// or its resourceVersion expired) `onGap` is called, so the caller can recheck its dependents.
import type { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { type BackoffPolicy, backoffDelay, DEFAULT_INFORMER_BACKOFF } from '../runtime/backoff.ts';
import type { Clock, Timer } from '../runtime/clock.ts';
import { describeError } from './informer.ts';
import { DEFAULT_WATCH_TIMEOUTS, TimedWatch, type WatchTimeouts } from './watch.ts';

export type NameWatchOptions = {
  readonly kubeConfig: KubeConfig;
  /** e.g. /api/v1/secrets or /api/v1/namespaces/team-a/secrets */
  readonly path: string;
  /** The collection's current resourceVersion (a list with limit=1). */
  readonly currentVersion: () => Promise<string>;
  readonly onChange: (namespace: string, name: string) => void;
  readonly onGap: () => void;
  readonly clock: Clock;
  readonly logger?: Logger;
  readonly backoff?: BackoffPolicy;
  readonly random?: () => number;
  /** The client's inactivity timeout and the server-side end of each watch. */
  readonly watchTimeouts?: WatchTimeouts;
};

export class NameWatch {
  readonly #o: NameWatchOptions;
  readonly #watch: TimedWatch;
  #running = false;
  #abort: AbortController | undefined;
  #timer: Timer | undefined;
  #version: string | undefined;
  #failures = 0;
  #restarts = 0;

  constructor(options: NameWatchOptions) {
    this.#o = options;
    this.#watch = new TimedWatch(
      options.kubeConfig,
      options.watchTimeouts ?? DEFAULT_WATCH_TIMEOUTS,
      options.random ?? Math.random,
    );
  }

  get restarts(): number {
    return this.#restarts;
  }

  /** Watches opened so far: the first, and one after each end of a watch (of any kind). */
  get watches(): number {
    return this.#watch.opened;
  }

  start(): void {
    if (this.#running) return;
    this.#running = true;
    void this.#open();
  }

  async stop(): Promise<void> {
    this.#running = false;
    this.#timer?.cancel();
    this.#abort?.abort();
  }

  async #open(): Promise<void> {
    if (!this.#running) return;
    try {
      if (this.#version === undefined) this.#version = await this.#o.currentVersion();
      let ended = false;
      const done = (err: unknown) => {
        if (ended) return;
        ended = true;
        this.#ended(err);
      };
      this.#abort = await this.#watch.watch(
        this.#o.path,
        { resourceVersion: this.#version },
        (phase: string, obj: unknown) => this.#event(phase, obj),
        done,
      );
    } catch (e) {
      this.#ended(e);
    }
  }

  #event(phase: string, obj: unknown): void {
    const meta =
      typeof obj === 'object' && obj !== null && 'metadata' in obj && typeof obj.metadata === 'object'
        ? (obj.metadata as { name?: unknown; namespace?: unknown; resourceVersion?: unknown })
        : undefined;
    if (typeof meta?.resourceVersion === 'string') this.#version = meta.resourceVersion;
    if (phase === 'ERROR') {
      // 410 Gone: the version expired; start again from now, after telling the caller.
      this.#version = undefined;
      this.#abort?.abort();
      return;
    }
    this.#failures = 0;
    if (phase === 'BOOKMARK') return;
    if (typeof meta?.name === 'string') {
      this.#o.onChange(typeof meta.namespace === 'string' ? meta.namespace : '', meta.name);
    }
  }

  #ended(err: unknown): void {
    if (!this.#running) return;
    if (err !== null && err !== undefined) {
      this.#failures += 1;
      this.#version = undefined;
      this.#o.logger?.info({ watch: this.#o.path, reason: describeError(err) }, 'watch ended; restarting');
    }
    this.#restarts += 1;
    if (this.#version === undefined) this.#o.onGap();
    const delay =
      this.#failures === 0
        ? 0
        : backoffDelay(
            this.#o.backoff ?? DEFAULT_INFORMER_BACKOFF,
            this.#failures,
            this.#o.random ?? Math.random,
          );
    this.#timer = this.#o.clock.setTimer(() => {
      this.#timer = undefined;
      void this.#open();
    }, delay);
  }
}
