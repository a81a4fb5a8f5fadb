// client-node's Watch as this operator opens it: always with bookmarks, with the client's
// inactivity timeout and (optionally) the server-side end of each watch set from options.
// The informers (informer.ts) and the uncached Secret watch (name-watch.ts) both open their
// watches through it.
import { type KubeConfig, Watch } from '@kubernetes/client-node';

export type WatchTimeouts = {
  /**
   * No byte on the connection (not even a bookmark) for this long: the client gives up on it.
   * client-node's own default is 30 s.
   */
  readonly inactivityMs: number;
  /** Each watch asks the server to end it after a random whole number of seconds in [min, max]. */
  readonly serverSeconds?: { readonly min: number; readonly max: number };
};

/** client-node's defaults: a 30 s inactivity timeout; the server picks each watch's end. */
export const DEFAULT_WATCH_TIMEOUTS: WatchTimeouts = { inactivityMs: 30_000 };

export function validateWatchTimeouts(t: WatchTimeouts): WatchTimeouts {
  if (!(t.inactivityMs > 0) || !Number.isFinite(t.inactivityMs))
    throw new RangeError(`watch: inactivityMs must be a positive number, got ${t.inactivityMs}`);
  const s = t.serverSeconds;
  if (
    s !== undefined &&
    !(Number.isInteger(s.min) && Number.isInteger(s.max) && s.min >= 1 && s.max >= s.min)
  )
    throw new RangeError(`watch: need whole server seconds 1 <= min <= max, got ${s.min}/${s.max}`);
  return t;
}

type WatchArgs = Parameters<Watch['watch']>;

export class TimedWatch extends Watch {
  readonly #timeouts: WatchTimeouts;
  readonly #random: () => number;
  #opened = 0;

  constructor(kubeConfig: KubeConfig, timeouts: WatchTimeouts, random: () => number = Math.random) {
    super(kubeConfig);
    this.#timeouts = validateWatchTimeouts(timeouts);
    this.#random = random;
    setInactivityTimeout(this, timeouts.inactivityMs);
  }

  /** Watches opened (requests sent) so far. */
  get opened(): number {
    return this.#opened;
  }

  override async watch(...[path, queryParams, callback, done]: WatchArgs): Promise<AbortController> {
    const s = this.#timeouts.serverSeconds;
    const params = {
      ...queryParams,
      allowWatchBookmarks: true,
      ...(s === undefined
        ? {}
        : { timeoutSeconds: s.min + Math.floor(this.#random() * (s.max - s.min + 1)) }),
    };
    this.#opened += 1;
    return super.watch(path, params, callback, done);
  }
}

/**
 * client-node 2.0.1 keeps its inactivity timeout in a field its types declare private, with no
 * option to set it. Checked at run time, so that an upgrade which renames it fails loudly here
 * instead of silently falling back to 30 s.
 */
function setInactivityTimeout(watch: Watch, ms: number): void {
  const fields = watch as unknown as { requestTimeoutMs?: unknown };
  if (typeof fields.requestTimeoutMs !== 'number') {
    throw new Error('client-node Watch has no requestTimeoutMs field: check src/kube/watch.ts');
  }
  fields.requestTimeoutMs = ms;
}
