// The closed catalogue of failures of the BTP clients (XSUAA token endpoints, Service Manager).
// The code is stable: callers switch on it, it is the metric label and the source of condition
// reasons. `retryable` is the verdict for the work queue (a later reconcile may succeed); which
// failures the clients retry themselves, within one call, is stated in retry.ts.
//
// Messages name the method, host/path and status, plus at most the API's own short
// `error`/`description` strings after they were checked for credentials (api-error.ts). They never
// hold tokens, client secrets, keys, certificates or response bodies.
import { OperatorError } from '../runtime/errors.ts';

export const BTP_ERRORS = {
  /** No connection: refused, reset, DNS failure, closed by the peer without an answer. */
  BtpUnreachable: { retryable: true },
  /**
   * The URL names a host or port outside the operator's --allowed-hosts: nothing was sent, no DNS
   * lookup was made. Asking again gets the same answer until the URL or the flag changes.
   */
  BtpHostNotAllowed: { retryable: false },
  /** Connect, response or body took longer than the configured timeout. */
  BtpTimeout: { retryable: true },
  /** The server refused our client certificate in the TLS handshake: none sent, untrusted, expired, revoked. */
  BtpTLSHandshakeFailed: { retryable: false },
  /** We do not trust the server's certificate (missing CA bundle, wrong host name, expired). */
  BtpServerCertificateUntrusted: { retryable: false },
  /** Our certificate or key cannot be used for TLS at all (unparseable PEM, key not matching). */
  BtpInvalidClientCredential: { retryable: false },
  /** 429; `retryAfterMs` says when to come back, if the server said so. */
  BtpRateLimited: { retryable: true },
  /** 5xx. */
  BtpServerError: { retryable: true },
  /** 401: bad or revoked client credentials (`invalid_client`), or a bearer token the SM refused twice. */
  BtpUnauthorized: { retryable: false },
  /** 403: the credentials are valid but lack the permission (e.g. not a Service Manager client). */
  BtpForbidden: { retryable: false },
  /** 401 `Unsupported instance credential`: x509 credentials sent to the plain `url`, not the `certurl`. */
  BtpUnsupportedCredential: { retryable: false },
  /** 400, or a request we refuse to send (e.g. a query value with control characters). */
  BtpBadRequest: { retryable: false },
  /** 404 where the resource must exist. */
  BtpNotFound: { retryable: false },
  /** 409: e.g. a binding name already used in that instance. */
  BtpConflict: { retryable: false },
  /** 422: another operation on the resource is in progress. */
  BtpConcurrentOperation: { retryable: true },
  /** An async operation ended in state `failed`. */
  BtpOperationFailed: { retryable: true },
  /** An async operation was still running at the caller's deadline. */
  BtpOperationTimeout: { retryable: true },
  /** A status or body the API does not document (unparseable JSON, missing fields, odd status). */
  BtpUnexpectedResponse: { retryable: false },
  /**
   * A body over the cap of its kind (limits.ts), or a list with more pages or items than the
   * operator reads; the request was aborted. Asking again gets the same answer.
   */
  BtpResponseTooLarge: { retryable: false },
} as const satisfies Record<string, { readonly retryable: boolean }>;

export type BtpErrorCode = keyof typeof BTP_ERRORS;

export const BTP_ERROR_CODES = Object.keys(BTP_ERRORS) as readonly BtpErrorCode[];

export function isBtpErrorCode(value: unknown): value is BtpErrorCode {
  return typeof value === 'string' && Object.hasOwn(BTP_ERRORS, value);
}

export interface BtpErrorOptions {
  readonly cause?: unknown;
  readonly httpStatus?: number;
  /** From Retry-After (or the operation's own hint), relative to when the answer arrived. */
  readonly retryAfterMs?: number;
  /**
   * False when the request never reached the server (connect failed), so retrying a
   * non-idempotent request is safe. Undefined: it may have been processed.
   */
  readonly requestSent?: boolean;
}

export class BtpError extends OperatorError {
  declare readonly code: BtpErrorCode;
  readonly httpStatus: number | undefined;
  readonly retryAfterMs: number | undefined;
  readonly requestSent: boolean | undefined;

  constructor(code: BtpErrorCode, message: string, options: BtpErrorOptions = {}) {
    super(code, message, {
      retryable: BTP_ERRORS[code].retryable,
      ...(options.cause === undefined ? {} : { cause: options.cause }),
    });
    this.name = 'BtpError';
    this.httpStatus = options.httpStatus;
    this.retryAfterMs = options.retryAfterMs;
    this.requestSent = options.requestSent;
  }
}

export function isBtpError(e: unknown): e is BtpError {
  return e instanceof BtpError;
}

/** `METHOD host/path`, the prefix of every message (no query string: it may be long). */
export function describeRequest(method: string, url: URL): string {
  return `${method} ${url.host}${url.pathname}`;
}
