// An uncached watch of a collection that only reports which objects changed (namespace/name).
// For source Secrets: the operator must notice their changes without caching every Secret of the
// cluster. Nothing is kept but the last resourceVersion.
//
// A watch that ends (the server ends every watch after its timeoutSeconds; the client gives up
// on a silent one; a network error) resumes from that version, which misses nothing: the server
// replays from there or answers 410 Gone. Only a 410 is a gap: the watch starts again from the
// collection's current version and `onGap` is called, so the caller can recheck its dependents.
import type { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { type BackoffPolicy, backoffDelay, DEFAULT_INFORMER_BACKOFF } from '../runtime/backoff.ts';
import type { Clock, Timer } from '../runtime/clock.ts';
import {
  DEFAULT_WATCH_TIMEOUTS,
  describeError,
  describeWatchEnd,
  TimedWatch,
  type WatchEnd,
  type WatchTimeouts,
  watchEnd,
} from './watch.ts';

export type NameWatchOptions = {
  readonly kubeConfig: KubeConfig;
  /** e.g. /api/v1/secrets or /api/v1/namespaces/team-a/secrets */
  readonly path: string;
  /** The collection's current resourceVersion (a list with limit=1). */
  readonly currentVersion: () => Promise<string>;
  readonly onChange: (namespace: string, name: string) => void;
  /**
   * The watch (re)starts from the collection's current version: at the start, and after a 410.
   * Changes before that version were not reported; called once the version is known.
   */
  readonly onGap: () => void;
  readonly clock: Clock;
  readonly logger?: Logger;
  readonly backoff?: BackoffPolicy;
  readonly random?: () => number;
  /** The client's inactivity timeout and the server-side end of each watch. */
  readonly watchTimeouts?: WatchTimeouts;
};

/** What one watch request saw before it ended. */
type Stream = {
  /** Any line (an event or a bookmark) arrived. */
  received: boolean;
  /** The Status of an ERROR event, if one arrived. */
  errorEvent: unknown;
};

export class NameWatch {
  readonly #o: NameWatchOptions;
  readonly #timeouts: WatchTimeouts;
  readonly #watch: TimedWatch;
  #running = false;
  #abort: AbortController | undefined;
  #timer: Timer | undefined;
  #version: string | undefined;
  #failures = 0;
  #restarts = 0;
  #lastError: string | undefined;

  constructor(options: NameWatchOptions) {
    this.#o = options;
    this.#timeouts = options.watchTimeouts ?? DEFAULT_WATCH_TIMEOUTS;
    this.#watch = new TimedWatch(options.kubeConfig, this.#timeouts, options.random ?? Math.random);
  }

  /** Restarts after errors (a failed request, a 410) so far; routine ends do not count. */
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
    if (this.#version === undefined) {
      try {
        this.#version = await this.#o.currentVersion();
      } catch (e) {
        this.#ended({ kind: 'failed', reason: describeError(e) }, false);
        return;
      }
      this.#o.onGap();
    }
    const stream: Stream = { received: false, errorEvent: undefined };
    let ended = false;
    const end = (error: unknown) => {
      if (ended) return;
      ended = true;
      this.#ended(watchEnd(error, stream.errorEvent), stream.received);
    };
    try {
      this.#abort = await this.#watch.watch(
        this.#o.path,
        { resourceVersion: this.#version },
        (phase: string, obj: unknown) => this.#event(stream, phase, obj),
        end,
      );
    } catch (e) {
      end(e);
    }
  }

  #event(stream: Stream, phase: string, obj: unknown): void {
    stream.received = true;
    if (phase === 'ERROR') {
      // The server ends the watch after it; its Status says whether the version expired.
      stream.errorEvent = obj;
      this.#abort?.abort();
      return;
    }
    const meta =
      typeof obj === 'object' && obj !== null && 'metadata' in obj && typeof obj.metadata === 'object'
        ? (obj.metadata as { name?: unknown; namespace?: unknown; resourceVersion?: unknown })
        : undefined;
    if (typeof meta?.resourceVersion === 'string') this.#version = meta.resourceVersion;
    if (phase === 'BOOKMARK') return;
    if (typeof meta?.name === 'string') {
      this.#o.onChange(typeof meta.namespace === 'string' ? meta.namespace : '', meta.name);
    }
  }

  #ended(end: WatchEnd, received: boolean): void {
    if (!this.#running) return;
    const log = { watch: this.#o.path, reason: describeWatchEnd(end, this.#timeouts) };
    let delayMs = 0;
    switch (end.kind) {
      case 'closed':
      case 'silent':
        // Routine. A server that closes watches before sending anything is backed off from.
        if (received || end.kind === 'silent') this.#failures = 0;
        else delayMs = this.#backoff();
        this.#o.logger?.debug({ ...log, resumeInMs: delayMs }, 'watch ended; resuming');
        break;
      case 'expired':
        this.#failures = 0;
        this.#restarts += 1;
        this.#version = undefined;
        this.#o.logger?.info(log, 'watch resourceVersion expired; restarting from the current one');
        break;
      case 'failed': {
        delayMs = this.#backoff();
        this.#restarts += 1;
        // The same reason again is worth a warning once, not on every retry.
        const repeated = end.reason === this.#lastError;
        this.#lastError = end.reason;
        this.#o.logger?.[repeated ? 'debug' : 'warn'](
          { ...log, failures: this.#failures, retryInMs: delayMs },
          'watch failed; retrying',
        );
        break;
      }
    }
    if (end.kind !== 'failed') this.#lastError = undefined;
    this.#timer = this.#o.clock.setTimer(() => {
      this.#timer = undefined;
      void this.#open();
    }, delayMs);
  }

  /** Counts one more failure and returns the delay before the next attempt. */
  #backoff(): number {
    this.#failures += 1;
    return backoffDelay(
      this.#o.backoff ?? DEFAULT_INFORMER_BACKOFF,
      this.#failures,
      this.#o.random ?? Math.random,
    );
  }
}
