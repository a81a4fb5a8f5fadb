// Retry-After in the three forms met on BTP (btp.md §4): delta-seconds (`120`), an HTTP-date
// (`Mon, 11 Nov 2024 14:59:34 GMT`, RFC 9110, obsolete RFC 850 and asctime forms included), and
// the Go `time.Time` String form one real client parses (`2024-11-11 14:59:33 +0000 UTC`).
// The result is a delay in milliseconds from `nowMs` (the injected clock), never negative and at
// most `capMs`; anything unparseable is undefined, so the caller falls back to its backoff.
// Pure: no clock is read here.

/** A sanity cap: no server gets to park us for more than a day with one header. */
export const RETRY_AFTER_CAP_MS = 24 * 60 * 60_000;

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];

function month(name: string): number | undefined {
  const index = MONTHS.indexOf(name.toLowerCase());
  return index < 0 ? undefined : index;
}

/** UTC milliseconds for calendar fields, undefined when a field is out of range. */
function utc(
  year: number,
  monthIndex: number,
  day: number,
  hour: number,
  minute: number,
  second: number,
): number | undefined {
  if (monthIndex < 0 || monthIndex > 11 || day < 1 || day > 31) return undefined;
  if (hour > 23 || minute > 59 || second > 60) return undefined;
  // Date.UTC would roll 31 Feb over into March: check the day against the month's length.
  const daysInMonth = (Date.UTC(year, monthIndex + 1, 1) - Date.UTC(year, monthIndex, 1)) / 86_400_000;
  if (day > daysInMonth) return undefined;
  return Date.UTC(year, monthIndex, day, hour, minute, second);
}

const DELTA = /^\d+$/;
// IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT
const IMF = /^[A-Za-z]{3}, (\d{2}) ([A-Za-z]{3}) (\d{4}) (\d{2}):(\d{2}):(\d{2}) GMT$/;
// RFC 850: Sunday, 06-Nov-94 08:49:37 GMT
const RFC850 = /^[A-Za-z]+, (\d{2})-([A-Za-z]{3})-(\d{2}) (\d{2}):(\d{2}):(\d{2}) GMT$/;
// asctime: Sun Nov  6 08:49:37 1994
const ASCTIME = /^[A-Za-z]{3} ([A-Za-z]{3}) {1,2}(\d{1,2}) (\d{2}):(\d{2}):(\d{2}) (\d{4})$/;
// Go time.Time.String(): 2024-11-11 14:59:33.123 +0000 UTC (optionally "m=+0.001" after it)
const GO_TIME =
  /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))? ([+-])(\d{2})(\d{2})(?: [A-Za-z0-9+-]+)?(?: m=[+-]\d+(?:\.\d+)?)?$/;

function num(text: string | undefined): number {
  return Number(text ?? 'NaN');
}

/** The instant a Retry-After date names, in UTC ms; undefined when it is no date we know. */
export function parseRetryAfterDate(text: string): number | undefined {
  let m = IMF.exec(text);
  if (m !== null) {
    const monthIndex = month(m[2] ?? '');
    return monthIndex === undefined
      ? undefined
      : utc(num(m[3]), monthIndex, num(m[1]), num(m[4]), num(m[5]), num(m[6]));
  }
  m = RFC850.exec(text);
  if (m !== null) {
    const monthIndex = month(m[2] ?? '');
    // RFC 9110 §5.6.7: a two-digit year more than 50 years ahead is in the past century; we
    // have no clock here, so 00-69 is 20xx and 70-99 is 19xx, as most parsers do.
    const short = num(m[3]);
    const year = short < 70 ? 2000 + short : 1900 + short;
    return monthIndex === undefined
      ? undefined
      : utc(year, monthIndex, num(m[1]), num(m[4]), num(m[5]), num(m[6]));
  }
  m = ASCTIME.exec(text);
  if (m !== null) {
    const monthIndex = month(m[1] ?? '');
    return monthIndex === undefined
      ? undefined
      : utc(num(m[6]), monthIndex, num(m[2]), num(m[3]), num(m[4]), num(m[5]));
  }
  m = GO_TIME.exec(text);
  if (m !== null) {
    const base = utc(num(m[1]), num(m[2]) - 1, num(m[3]), num(m[4]), num(m[5]), num(m[6]));
    if (base === undefined) return undefined;
    const fractionMs = m[7] === undefined ? 0 : Number(`0.${m[7]}`) * 1000;
    const offsetMs = (num(m[9]) * 60 + num(m[10])) * 60_000 * (m[8] === '-' ? -1 : 1);
    // The wall time is local to the offset: UTC = local - offset.
    return base + fractionMs - offsetMs;
  }
  return undefined;
}

/**
 * Milliseconds to wait according to a Retry-After header value (string, string[] or anything
 * else undici might hand over), counted from `nowMs`; 0 for a date in the past, at most `capMs`.
 * A date is rounded up to whole milliseconds so that waiting the result never ends before it.
 */
export function parseRetryAfter(
  value: unknown,
  nowMs: number,
  capMs: number = RETRY_AFTER_CAP_MS,
): number | undefined {
  const raw = typeof value === 'string' ? value : Array.isArray(value) ? value[0] : undefined;
  if (typeof raw !== 'string') return undefined;
  const text = raw.trim();
  if (text === '' || text.length > 100) return undefined;
  let delayMs: number;
  if (DELTA.test(text)) {
    delayMs = Number(text) * 1000;
  } else {
    const at = parseRetryAfterDate(text);
    if (at === undefined) return undefined;
    delayMs = Math.ceil(at - nowMs);
  }
  if (!Number.isFinite(delayMs)) return capMs;
  return Math.min(capMs, Math.max(0, delayMs));
}
