// client-node's Watch as this operator opens it, and how a watch's end is read.
//
// Each watch asks the server to end it after a randomised 5-10 min (client-go's range) and asks
// for bookmarks, which the kube-apiserver sends about once a minute and 2 s before that end. So
// an idle watch ends cleanly, by the server, with a fresh resourceVersion to resume from. The
// client gives up on a connection only after a silence longer than the bookmark interval
// (client-node's own 30 s is shorter than it: idle watches would time out every 30 s).
// The informers (informer.ts) and the uncached Secret watch (name-watch.ts) use both.
import { type KubeConfig, Watch } from '@kubernetes/client-node';

export type WatchTimeouts = {
  /** No byte on the connection (not even a bookmark) for this long: the client gives up on it. */
  readonly inactivityMs: number;
  /** Each watch asks the server to end it after a random whole number of seconds in [min, max]. */
  readonly serverSeconds?: { readonly min: number; readonly max: number };
};

/** The apiserver sends a bookmark on an idle watch about this often (its cacher's bookmarkFrequency). */
export const BOOKMARK_INTERVAL_MS = 60_000;

/** Server-side ends after 5-10 min; two missed bookmarks before the client gives up. */
export const DEFAULT_WATCH_TIMEOUTS: WatchTimeouts = {
  inactivityMs: 2 * BOOKMARK_INTERVAL_MS,
  serverSeconds: { min: 300, max: 600 },
};

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

/** How a watch ended, and so what comes next. */
export type WatchEnd =
  /** The server ended it (its timeoutSeconds, or it shut down): resume from the last version. */
  | { readonly kind: 'closed' }
  /** Nothing arrived for the inactivity timeout; the client gave up: resume from the last version. */
  | { readonly kind: 'silent' }
  /** 410 Gone: the last version is too old to resume from; start from the current one. */
  | { readonly kind: 'expired' }
  /** Anything else (an HTTP error, a network error): resume from the last version after a backoff. */
  | { readonly kind: 'failed'; readonly reason: string };

/**
 * Reads the end of a watch from what client-node's `done` received (null: the stream ended) and
 * the Status of an ERROR event the stream carried before it ended, if any. Resuming from the last
 * resourceVersion never misses a change: the server either replays from there or answers 410.
 */
export function watchEnd(error: unknown, errorEvent?: unknown): WatchEnd {
  if (statusCode(errorEvent) === 410 || statusCode(error) === 410) return { kind: 'expired' };
  if (errorEvent !== undefined) return { kind: 'failed', reason: describeError(errorEvent) };
  if (error === null || error === undefined) return { kind: 'closed' };
  if (typeof error === 'object' && 'name' in error && error.name === 'TimeoutError')
    return { kind: 'silent' };
  return { kind: 'failed', reason: describeError(error) };
}

/** The HTTP status of a failed watch request, or the code of an ERROR event's Status. */
function statusCode(value: unknown): number | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  if ('statusCode' in value && typeof value.statusCode === 'number') return value.statusCode;
  if ('kind' in value && value.kind === 'Status' && 'code' in value && typeof value.code === 'number')
    return value.code;
  return undefined;
}

/** The log text of a routine end (closed, silent), saying what happened. */
export function describeWatchEnd(end: WatchEnd, timeouts: WatchTimeouts): string {
  switch (end.kind) {
    case 'closed':
      return 'closed by the server';
    case 'silent':
      return `no data for ${timeouts.inactivityMs / 1000} s; the client gave up`;
    case 'expired':
      return 'resourceVersion expired (410 Gone)';
    case 'failed':
      return end.reason;
  }
}

const MAX_REASON_CHARS = 200;

/**
 * A short, log-safe reason for an informer or watch error: HTTP status and the API's Status
 * reason, or a network error code. Response bodies (which may echo objects) are never included.
 */
export function describeError(error: unknown): string {
  if (typeof error !== 'object' || error === null) return String(error).slice(0, MAX_REASON_CHARS);
  // A DOMException's numeric code is a legacy DOM one (23 for a TimeoutError), not an HTTP status.
  const status =
    numberField(error, 'statusCode') ??
    (error instanceof DOMException ? undefined : numberField(error, 'code'));
  if (status !== undefined) {
    // An ApiException carries the Status in its body; an ERROR event of a watch is one.
    const apiReason = statusReason('body' in error ? error.body : error);
    return `HTTP ${status}${apiReason === undefined ? '' : ` ${apiReason}`}`;
  }
  const name = error instanceof Error ? error.name : 'Error';
  const code = stringField(error, 'code');
  const cause =
    'cause' in error && typeof error.cause === 'object' && error.cause !== null ? error.cause : undefined;
  const causeCode = cause === undefined ? undefined : stringField(cause, 'code');
  const message = error instanceof Error ? error.message : '';
  const parts = [name, code ?? causeCode, message].filter((p) => p !== undefined && p !== '');
  return parts.join(': ').slice(0, MAX_REASON_CHARS);
}

function numberField(obj: object, field: string): number | undefined {
  const value: unknown = (obj as Record<string, unknown>)[field];
  return typeof value === 'number' ? value : undefined;
}

function stringField(obj: object, field: string): string | undefined {
  const value: unknown = (obj as Record<string, unknown>)[field];
  return typeof value === 'string' ? value : undefined;
}

/** The `reason` of a Kubernetes Status body (e.g. NotFound, Forbidden), if that is what it is. */
function statusReason(body: unknown): string | undefined {
  let parsed: unknown = body;
  if (typeof body === 'string') {
    try {
      parsed = JSON.parse(body);
    } catch {
      return undefined;
    }
  }
  if (typeof parsed !== 'object' || parsed === null) return undefined;
  if (!('kind' in parsed) || parsed.kind !== 'Status') return undefined;
  return 'reason' in parsed && typeof parsed.reason === 'string' ? parsed.reason.slice(0, 64) : undefined;
}
