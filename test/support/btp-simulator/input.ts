// Boundary parsing helpers: everything that arrives from outside (JSON bodies, query
// strings, config files, admin requests) is `unknown` until one of these has checked it.

/** Bad input from a client; the message is safe to return in an error body. */
export class InputError extends Error {
  override readonly name = 'InputError';
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new InputError(`${what} is not valid JSON`);
  }
}

export function requireRecord(value: unknown, what: string): Record<string, unknown> {
  if (!isRecord(value)) throw new InputError(`${what} must be a JSON object`);
  return value;
}

export function requireString(value: unknown, what: string): string {
  if (typeof value !== 'string' || value.length === 0)
    throw new InputError(`${what} must be a non-empty string`);
  return value;
}

export function optionalString(value: unknown, what: string): string | undefined {
  return value === undefined ? undefined : requireString(value, what);
}

export function requireInteger(value: unknown, what: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new InputError(`${what} must be an integer from ${min} to ${max}`);
  }
  return value;
}

export function optionalInteger(value: unknown, what: string, min: number, max: number): number | undefined {
  return value === undefined ? undefined : requireInteger(value, what, min, max);
}

export function requireNumber(value: unknown, what: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
    throw new InputError(`${what} must be a number from ${min} to ${max}`);
  }
  return value;
}

export function optionalBoolean(value: unknown, what: string): boolean | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'boolean') throw new InputError(`${what} must be a boolean`);
  return value;
}

export function requireOneOf<T extends string>(value: unknown, allowed: readonly T[], what: string): T {
  const found = allowed.find((candidate) => candidate === value);
  if (found === undefined) throw new InputError(`${what} must be one of ${allowed.join(', ')}`);
  return found;
}

export function requireStringArray(value: unknown, what: string): string[] {
  if (!Array.isArray(value) || !value.every((item): item is string => typeof item === 'string')) {
    throw new InputError(`${what} must be an array of strings`);
  }
  return value;
}

/** Rejects keys outside `allowed`, so that a typo in a config or fault is not silently ignored. */
export function rejectUnknownKeys(
  record: Record<string, unknown>,
  allowed: readonly string[],
  what: string,
): void {
  for (const key of Object.keys(record)) {
    if (!allowed.includes(key)) throw new InputError(`${what}: unknown field '${key}'`);
  }
}
