// The closed catalogue of reasons why credentials are not a usable TLS bundle. The code is stable:
// it is what callers switch on, the metric label and the source of a condition reason. The message
// is for people: specific and actionable, and it never carries key material or PEM text.

export const PkiErrorCode = {
  /** The text is larger, or holds more certificates, than any credential does: it is not parsed. */
  InputTooLarge: 'InputTooLarge',
  /** A block of the certificate text is not a parseable X.509 certificate, or there is none. */
  InvalidCertificate: 'InvalidCertificate',
  /** The key text is not exactly one unencrypted private key that we support. */
  InvalidKey: 'InvalidKey',
  /** The private key is not the one whose public half the leaf certificate holds. */
  KeyMismatch: 'KeyMismatch',
  /** The certificates do not form one chain from a leaf up through its issuers. */
  BrokenChain: 'BrokenChain',
  /** A certificate of the chain is past its notAfter. */
  Expired: 'Expired',
  /** A certificate of the chain is before its notBefore. */
  NotYetValid: 'NotYetValid',
} as const;

export type PkiErrorCode = (typeof PkiErrorCode)[keyof typeof PkiErrorCode];

/**
 * None of these is retryable: the answer is a function of the input (and the clock), so parsing
 * the same credentials again gives the same error. Whether to ask BTP for new credentials is the
 * controller's decision, not this module's.
 */
export const pkiErrorRetryable: Readonly<Record<PkiErrorCode, boolean>> = {
  InputTooLarge: false,
  InvalidCertificate: false,
  InvalidKey: false,
  KeyMismatch: false,
  BrokenChain: false,
  Expired: false,
  NotYetValid: false,
};

export type PkiError = {
  readonly code: PkiErrorCode;
  readonly message: string;
};

export type Result<T, E> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly error: E };

export type PkiResult<T> = Result<T, PkiError>;

export function isPkiErrorCode(value: unknown): value is PkiErrorCode {
  return typeof value === 'string' && Object.hasOwn(PkiErrorCode, value);
}

export function ok<T>(value: T): Result<T, never> {
  return { ok: true, value };
}

export function fail(code: PkiErrorCode, message: string): PkiResult<never> {
  return { ok: false, error: { code, message } };
}

/**
 * Why an additional output format cannot be written for a valid bundle: a separate catalogue,
 * because the credentials are fine and only the format fails (the OutputFormatFailed reason).
 */
export const OutputErrorCode = {
  /** The PKCS12 password has characters outside ASCII, which Java cannot use for PBES2 keystores. */
  UnsupportedPassword: 'UnsupportedPassword',
} as const;

export type OutputErrorCode = (typeof OutputErrorCode)[keyof typeof OutputErrorCode];

export type OutputError = {
  readonly code: OutputErrorCode;
  readonly message: string;
};

export type OutputResult<T> = Result<T, OutputError>;
