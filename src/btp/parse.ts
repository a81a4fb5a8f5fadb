// Boundary helpers for what BTP sends us: JSON bodies and headers arrive as `unknown`.

export type JsonRecord = Readonly<Record<string, unknown>>;

export function isRecord(value: unknown): value is JsonRecord {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function optionalString(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

export function nonEmptyString(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** A header value as undici gives it (string, string[] or undefined): the first string, if any. */
export function headerValue(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) return value.find((item): item is string => typeof item === 'string');
  return undefined;
}

/** `{key: [values]}`; anything that is not a list of strings is dropped. */
export function parseLabels(value: unknown): Readonly<Record<string, readonly string[]>> {
  if (!isRecord(value)) return {};
  const labels: Record<string, readonly string[]> = {};
  for (const [key, values] of Object.entries(value)) {
    if (Array.isArray(values) && values.every((item) => typeof item === 'string')) labels[key] = values;
  }
  return labels;
}
