// Pure: which catalogue entry a failed exchange (no HTTP status) belongs to, from the Node,
// OpenSSL and undici error codes along the error's cause chain and what the HTTP module saw.
// No undici import: this reads code strings only.
import { BtpError, describeRequest } from './errors.ts';

/**
 * TLS alerts a server sends when it refuses the client certificate (TLS 1.3 reports a missing one
 * as `certificate_required`; TLS 1.2 servers send `handshake_failure` or `bad_certificate`).
 */
const CLIENT_CERTIFICATE_ALERT =
  /^ERR_SSL_(?:TLSV13_|TLSV1_|SSLV3_)?ALERT_(?:CERTIFICATE_REQUIRED|BAD_CERTIFICATE|UNKNOWN_CA|CERTIFICATE_EXPIRED|CERTIFICATE_REVOKED|CERTIFICATE_UNKNOWN|UNSUPPORTED_CERTIFICATE|ACCESS_DENIED|DECRYPT_ERROR|HANDSHAKE_FAILURE)$/;

/** Our own verification of the server's certificate failed. */
const SERVER_CERTIFICATE_CODES = new Set([
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_UNTRUSTED',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_REVOKED',
  'CERT_SIGNATURE_FAILURE',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

const TIMEOUT_CODES = new Set([
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'ETIMEDOUT',
]);

/** Failures before a byte of the request could have reached the server. */
const NOT_SENT_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EHOSTDOWN',
  'EADDRNOTAVAIL',
  'UND_ERR_CONNECT_TIMEOUT',
]);

const UNREACHABLE_CODES = new Set([
  ...NOT_SENT_CODES,
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_DESTROYED',
]);

/** Every string `code` along the cause chain (and inside AggregateErrors), outermost first. */
export function errorCodes(error: unknown): string[] {
  const codes: string[] = [];
  const seen = new Set<unknown>();
  const visit = (value: unknown, depth: number): void => {
    if (depth > 8 || typeof value !== 'object' || value === null || seen.has(value)) return;
    seen.add(value);
    if ('code' in value && typeof value.code === 'string') codes.push(value.code);
    if ('cause' in value) visit(value.cause, depth + 1);
    if ('errors' in value && Array.isArray(value.errors))
      for (const inner of value.errors) visit(inner, depth + 1);
  };
  visit(error, 0);
  return codes;
}

export function isClientCertificateAlert(code: string): boolean {
  return CLIENT_CERTIFICATE_ALERT.test(code);
}

export interface TransportFailure {
  readonly method: string;
  readonly url: URL;
  readonly error: unknown;
  /** Our clock's timer ended the attempt. */
  readonly timedOut: boolean;
  readonly timeoutMs: number;
  /** The error came out of connection setup (TCP or TLS), so the request was never sent. */
  readonly duringConnect: boolean;
  /** A TLS alert the socket received before it was closed (its error code). */
  readonly alertCode: string | undefined;
  /**
   * The server closed a fresh connection that presented our client certificate without a word,
   * and a probe handshake was closed the same way: it rejects the certificate after verifying it.
   */
  readonly certificateRejectedSilently: boolean;
}

export function classifyTransportFailure(failure: TransportFailure): BtpError {
  const request = describeRequest(failure.method, failure.url);
  const codes = errorCodes(failure.error);
  const cause = failure.error;
  const alert = failure.alertCode ?? codes.find(isClientCertificateAlert);
  if (alert !== undefined) {
    return new BtpError(
      'BtpTLSHandshakeFailed',
      `${request}: the server refused the client certificate in the TLS handshake (${alert})`,
      { cause, requestSent: false },
    );
  }
  if (failure.certificateRejectedSilently) {
    return new BtpError(
      'BtpTLSHandshakeFailed',
      `${request}: the server closed the connection right after the TLS handshake, without an answer: it does not accept the client certificate`,
      { cause, requestSent: false },
    );
  }
  const serverCode = codes.find((code) => SERVER_CERTIFICATE_CODES.has(code));
  if (serverCode !== undefined) {
    return new BtpError(
      'BtpServerCertificateUntrusted',
      `${request}: the server's TLS certificate is not trusted (${serverCode}); check the CA bundle and the host name`,
      { cause, requestSent: false },
    );
  }
  const notSent = failure.duringConnect || codes.some((code) => NOT_SENT_CODES.has(code));
  const sent = notSent ? { requestSent: false } : {};
  if (failure.timedOut || codes.some((code) => TIMEOUT_CODES.has(code))) {
    const what = codes.includes('UND_ERR_CONNECT_TIMEOUT') ? 'no connection' : 'no complete answer';
    return new BtpError('BtpTimeout', `${request}: ${what} within ${failure.timeoutMs} ms`, {
      cause,
      ...sent,
    });
  }
  const unreachable = codes.find((code) => UNREACHABLE_CODES.has(code));
  if (unreachable !== undefined || failure.duringConnect) {
    return new BtpError(
      'BtpUnreachable',
      `${request}: connection failed (${unreachable ?? codes[0] ?? 'unknown'})`,
      { cause, ...sent },
    );
  }
  return new BtpError(
    'BtpUnexpectedResponse',
    `${request}: the exchange failed (${codes[0] ?? 'no error code'})`,
    { cause },
  );
}
