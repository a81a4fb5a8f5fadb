// What a failed token check means for TokenReady: each BTP client error code becomes one reason,
// with a message a person can act on. Pure. The BtpError messages carry method, host, path, status
// and the endpoint's own short error text, never key material or tokens (btp/errors.ts).
import type { Reason } from '../api/conditions.ts';
import { type BtpErrorCode, isBtpError } from '../btp/errors.ts';

export type TokenFailureReason = Extract<
  Reason,
  | 'TLSHandshakeFailed'
  | 'ServerCertificateUntrusted'
  | 'InvalidClient'
  | 'WrongEndpoint'
  | 'RateLimited'
  | 'Unreachable'
  | 'HostNotAllowed'
  | 'Timeout'
  | 'UnexpectedResponse'
  | 'ResponseTooLarge'
  | 'InputTooLarge'
>;

export type TokenFailure = {
  readonly reason: TokenFailureReason;
  readonly message: string;
  /** The HTTP status, where there was an answer. */
  readonly httpStatus?: number;
  /** The endpoint's Retry-After, for a 429. */
  readonly retryAfterMs?: number;
};

const REASON_BY_CODE: Readonly<Record<BtpErrorCode, TokenFailureReason>> = {
  BtpTLSHandshakeFailed: 'TLSHandshakeFailed',
  BtpInvalidClientCredential: 'TLSHandshakeFailed',
  BtpServerCertificateUntrusted: 'ServerCertificateUntrusted',
  BtpUnauthorized: 'InvalidClient',
  BtpUnsupportedCredential: 'WrongEndpoint',
  BtpRateLimited: 'RateLimited',
  BtpUnreachable: 'Unreachable',
  BtpHostNotAllowed: 'HostNotAllowed',
  BtpTimeout: 'Timeout',
  BtpServerError: 'UnexpectedResponse',
  BtpForbidden: 'UnexpectedResponse',
  BtpBadRequest: 'UnexpectedResponse',
  BtpNotFound: 'UnexpectedResponse',
  BtpConflict: 'UnexpectedResponse',
  BtpConcurrentOperation: 'UnexpectedResponse',
  BtpOperationFailed: 'UnexpectedResponse',
  BtpOperationTimeout: 'UnexpectedResponse',
  BtpUnexpectedResponse: 'UnexpectedResponse',
  BtpResponseTooLarge: 'ResponseTooLarge',
};

const HINT: Readonly<Record<TokenFailureReason, string>> = {
  TLSHandshakeFailed:
    'the token endpoint refused the client certificate in the TLS handshake (not issued by a CA it trusts, expired or revoked)',
  ServerCertificateUntrusted:
    "the token endpoint's server certificate is not trusted; for a private landscape set spec.token.caBundleRef or --btp-ca-file",
  InvalidClient:
    'the token endpoint does not know this client (invalid_client): the binding was deleted or revoked, or the clientid does not belong to the certificate',
  WrongEndpoint:
    'this endpoint does not take x509 credentials; they must go to the certurl (set spec.token.url when the credentials have none)',
  RateLimited: 'the token endpoint is rate limiting; the check is retried with backoff',
  Unreachable: 'no connection to the token endpoint; the check is retried with backoff',
  HostNotAllowed:
    "the token endpoint is not one the operator may contact (use the credentials' BTP certurl, or have it added to the operator's --allowed-hosts)",
  Timeout: 'the token endpoint did not answer in time; the check is retried with backoff',
  UnexpectedResponse: 'the token endpoint did not answer with a token',
  ResponseTooLarge:
    'the token endpoint answered with a body far larger than a token; the request was aborted',
  // Never the verdict on an answer: the check refuses an input before it asks (token-reconcile.ts).
  InputTooLarge: 'an input of the token check is larger than the operator accepts',
};

export function tokenFailure(error: unknown): TokenFailure {
  if (!isBtpError(error)) {
    return {
      reason: 'UnexpectedResponse',
      message: `${HINT.UnexpectedResponse}: an internal error occurred`,
    };
  }
  // A token URL we refuse to send to (not https, not a URL) is the wrong endpoint, not an answer.
  const reason: TokenFailureReason =
    error.code === 'BtpBadRequest' && error.httpStatus === undefined
      ? 'WrongEndpoint'
      : REASON_BY_CODE[error.code];
  const status = error.httpStatus === undefined ? '' : ` (HTTP ${error.httpStatus})`;
  return {
    reason,
    message: `${HINT[reason]}${status}: ${error.message}`,
    ...(error.httpStatus === undefined ? {} : { httpStatus: error.httpStatus }),
    ...(error.retryAfterMs === undefined ? {} : { retryAfterMs: error.retryAfterMs }),
  };
}
