// Go duration strings ("720h", "1h30m", "1.5s"), as in spec.renewBefore.

const UNIT_MS: Readonly<Record<string, number>> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};
const PART = /([0-9]+(?:\.[0-9]+)?)(ns|us|µs|ms|s|m|h)/y;

/** Milliseconds, or undefined when the text is not a Go duration. */
export function parseGoDuration(text: string): number | undefined {
  if (text === '' || text === '0') return text === '0' ? 0 : undefined;
  let total = 0;
  PART.lastIndex = 0;
  while (PART.lastIndex < text.length) {
    const at = PART.lastIndex;
    const m = PART.exec(text);
    if (!m || m.index !== at) return undefined;
    const [, value, unit] = m;
    const perUnit = unit === undefined ? undefined : UNIT_MS[unit];
    if (value === undefined || perUnit === undefined) return undefined;
    total += Number(value) * perUnit;
  }
  return total;
}

/**
 * A duration of the spec in milliseconds, within the CRD's bounds: `fallback` when absent or not a
 * Go duration, clamped to [min, max] otherwise. The CRD rejects values out of bounds; an object
 * stored before it did is read this way, so that no value makes a date that cannot be written.
 */
export function boundedDuration(
  text: string | undefined,
  bounds: { readonly min: number; readonly max: number; readonly fallback: number },
): number {
  const parsed = text === undefined ? undefined : parseGoDuration(text);
  if (parsed === undefined) return bounds.fallback;
  return Math.min(Math.max(parsed, bounds.min), bounds.max);
}

/** A Go duration constant of ours (the CRD's bounds), in milliseconds. */
export function durationConstant(text: string): number {
  const ms = parseGoDuration(text);
  if (ms === undefined) throw new Error(`not a Go duration: ${text}`);
  return ms;
}
