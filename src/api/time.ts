/** A time as status and conditions write it: RFC 3339 in UTC, whole seconds (metav1.Time). */
export const iso = (d: Date): string => d.toISOString().replace(/\.\d{3}Z$/, 'Z');

/** The earliest of the times given; undefined ones are ignored. */
export function earliest(...dates: readonly (Date | undefined)[]): Date | undefined {
  return dates.reduce<Date | undefined>(
    (a, d) => (d !== undefined && (a === undefined || d < a) ? d : a),
    undefined,
  );
}
