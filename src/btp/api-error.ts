// From an HTTP answer that is not a success to a catalogued BtpError. The APIs answer errors as
// JSON: XSUAA `{error, error_description}`, the Service Manager `{error, description}`, the
// Destination service `{ErrorMessage}`. Only these short strings may reach a message, and only
// after they were checked: cut to a short length, control characters removed, and anything that
// could be a credential (a known secret, a JWT, a PEM block, a long base64 run) replaced.
import { BtpError, type BtpErrorCode, describeRequest } from './errors.ts';
import type { BtpResponse } from './http.ts';
import { MAX_ERROR_TEXT_LENGTH } from './limits.ts';
import { isRecord } from './parse.ts';
import { parseRetryAfter } from './retry-after.ts';

const MAX_FIELD_LENGTH = 160;
const REDACTED = '[redacted]';

/**
 * Each scrubber is one pass over the text (no pattern that retries from every position of a long
 * run: issue 10 measured seconds for 90 KB), and the text is cut to MAX_ERROR_TEXT_LENGTH first.
 */
const SCRUBBERS: readonly ((text: string) => string)[] = [
  redactPemBlocks,
  // A JWT (`eyJ...` header, a dot, more): the rest of the run of token characters it starts in.
  (text) =>
    text.replace(/[A-Za-z0-9_.-]+/g, (run) => {
      const at = run.indexOf('eyJ');
      if (at < 0) return run;
      const dot = run.indexOf('.', at + 4);
      return dot >= 0 && dot < run.length - 1 ? `${run.slice(0, at)}${REDACTED}` : run;
    }),
  // A long base64 or secret-like run.
  (text) => text.replace(/[A-Za-z0-9+/_=$-]+/g, (run) => (run.length >= 40 ? REDACTED : run)),
];

/** Everything from a `-----BEGIN` to the end of its `-----END ...-----` line, or to the end. */
function redactPemBlocks(text: string): string {
  let out = '';
  let at = 0;
  for (;;) {
    const begin = text.indexOf('-----BEGIN', at);
    if (begin < 0) return out + text.slice(at);
    out += `${text.slice(at, begin)}${REDACTED}`;
    const end = text.indexOf('-----END', begin + 10);
    const close = end < 0 ? -1 : text.indexOf('-----', end + 8);
    if (close < 0) return out;
    at = close + 5;
  }
}

/**
 * `text` cut to MAX_ERROR_TEXT_LENGTH, without the word the cut went through: a credential cut in
 * two is no longer found whole, so the part before the cut goes too.
 */
function capErrorText(text: string): string {
  if (text.length <= MAX_ERROR_TEXT_LENGTH) return text;
  const head = text.slice(0, MAX_ERROR_TEXT_LENGTH);
  let end = head.length;
  while (end > 0 && !/\s/.test(head.charAt(end - 1))) end -= 1;
  return `${head.slice(0, end)}…`;
}

/** A short API string made safe to show: length-capped, printable, no credentials. */
export function safeApiText(value: unknown, secrets: readonly string[]): string | undefined {
  if (typeof value !== 'string') return undefined;
  let text = capErrorText(value);
  // Secrets are removed before the patterns run, so that none is left half-redacted.
  for (const secret of secrets) {
    if (secret.length >= 4) text = text.split(secret).join(REDACTED);
  }
  for (const scrub of SCRUBBERS) text = scrub(text);
  // biome-ignore lint/suspicious/noControlCharactersInRegex: stripping control characters is the point
  text = text.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim();
  if (text.length > MAX_FIELD_LENGTH) text = `${text.slice(0, MAX_FIELD_LENGTH)}…`;
  return text === '' ? undefined : text;
}

export interface ApiErrorFields {
  readonly error: string | undefined;
  readonly description: string | undefined;
}

/**
 * The checked `error` and `description` (SM), `error_description` (XSUAA) or `ErrorMessage`
 * (Destination service) of an error body.
 */
export function apiErrorFields(json: unknown, secrets: readonly string[]): ApiErrorFields {
  if (!isRecord(json)) return { error: undefined, description: undefined };
  return {
    error: safeApiText(json.error, secrets),
    description: safeApiText(json.error_description ?? json.description ?? json.ErrorMessage, secrets),
  };
}

function summary(fields: ApiErrorFields): string {
  if (fields.error !== undefined && fields.description !== undefined)
    return ` ${fields.error}: ${fields.description}`;
  const one = fields.error ?? fields.description;
  return one === undefined ? '' : ` ${one}`;
}

function codeForStatus(status: number): BtpErrorCode {
  if (status === 400) return 'BtpBadRequest';
  if (status === 401) return 'BtpUnauthorized';
  if (status === 403) return 'BtpForbidden';
  if (status === 404 || status === 410) return 'BtpNotFound';
  if (status === 409) return 'BtpConflict';
  if (status === 422) return 'BtpConcurrentOperation';
  if (status === 429) return 'BtpRateLimited';
  if (status >= 500 && status <= 599) return 'BtpServerError';
  return 'BtpUnexpectedResponse';
}

/**
 * The error for an answer the caller did not expect. `code` overrides the status mapping (e.g.
 * a 401 that says the credential type is unsupported); `secrets` are scrubbed from the API text.
 */
export function errorForStatus(
  method: string,
  url: URL,
  response: BtpResponse,
  secrets: readonly string[],
  code?: BtpErrorCode,
): BtpError {
  const fields = apiErrorFields(response.json, secrets);
  const retryAfterMs = parseRetryAfter(response.headers['retry-after'], response.receivedAtMs);
  return new BtpError(
    code ?? codeForStatus(response.status),
    `${describeRequest(method, url)}: ${response.status}${summary(fields)}`,
    {
      httpStatus: response.status,
      ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
    },
  );
}

/** A 2xx whose body is not what the API documents. */
export function unexpectedBody(method: string, url: URL, status: number, what: string): BtpError {
  return new BtpError('BtpUnexpectedResponse', `${describeRequest(method, url)}: ${status} but ${what}`, {
    httpStatus: status,
  });
}
