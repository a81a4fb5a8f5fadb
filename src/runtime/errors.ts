// The base of the operator's error catalogue. Every error we raise on purpose carries a stable
// `code` (the metric label and the source of condition reasons; switch on it, never on message
// text) and says whether retrying can help:
// - retryable: the queue retries the key with per-key capped exponential backoff;
// - terminal: logged, not retried until the object changes (or the periodic resync).
// Messages must never contain key material or Secret data.

export interface OperatorErrorOptions {
  readonly retryable: boolean;
  readonly cause?: unknown;
}

export class OperatorError extends Error {
  readonly code: string;
  readonly retryable: boolean;

  constructor(code: string, message: string, options: OperatorErrorOptions) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'OperatorError';
    this.code = code;
    this.retryable = options.retryable;
  }
}

/** Code used for errors that are not OperatorErrors (bugs, library errors, network errors). */
export const UNKNOWN_ERROR_CODE = 'Unknown';

/**
 * The shape every catalogued error has. Checked structurally rather than with instanceof, so an
 * error class from another module (or another copy of this one) that carries the same two
 * fields is honoured too.
 */
export interface CataloguedError {
  readonly code: string;
  readonly retryable: boolean;
}

export function isCatalogued(e: unknown): e is CataloguedError {
  return (
    typeof e === 'object' &&
    e !== null &&
    'code' in e &&
    typeof e.code === 'string' &&
    'retryable' in e &&
    typeof e.retryable === 'boolean'
  );
}

/** Only errors that declare themselves terminal are terminal; anything unknown is retried. */
export function isRetryable(e: unknown): boolean {
  return isCatalogued(e) ? e.retryable : true;
}

/** The stable code of a catalogued error, `Unknown` for anything else (bounded metric label). */
export function errorCode(e: unknown): string {
  return isCatalogued(e) ? e.code : UNKNOWN_ERROR_CODE;
}
