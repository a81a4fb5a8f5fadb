// Retry-After in the three forms clients meet on BTP (btp.md section 4): delta-seconds,
// an HTTP-date (IMF-fixdate), and the Go time.Time String() form one real client parses,
// `2024-11-11 14:59:33 +0000 UTC`. Dates are rounded up to the next whole second so that a
// client waiting until the named instant always waits at least the intended delay.

export const RETRY_AFTER_FORMS = ['seconds', 'http-date', 'go-time'] as const;
export type RetryAfterForm = (typeof RETRY_AFTER_FORMS)[number];

export interface RetryAfter {
  readonly form: RetryAfterForm;
  readonly seconds: number;
}

function pad(value: number): string {
  return String(value).padStart(2, '0');
}

function goTimeString(date: Date): string {
  const day = `${date.getUTCFullYear()}-${pad(date.getUTCMonth() + 1)}-${pad(date.getUTCDate())}`;
  const time = `${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())}:${pad(date.getUTCSeconds())}`;
  return `${day} ${time} +0000 UTC`;
}

export function formatRetryAfter(retryAfter: RetryAfter, nowMs: number): string {
  if (retryAfter.form === 'seconds') return String(Math.ceil(retryAfter.seconds));
  const target = new Date(Math.ceil((nowMs + retryAfter.seconds * 1000) / 1000) * 1000);
  return retryAfter.form === 'http-date' ? target.toUTCString() : goTimeString(target);
}
