/** A JSON object (not null, not an array): the first check when parsing `unknown` at a boundary. */
export const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
