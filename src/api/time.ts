/** A time as status and conditions write it: RFC 3339 in UTC, whole seconds (metav1.Time). */
export const iso = (d: Date): string => d.toISOString().replace(/\.\d{3}Z$/, 'Z');
