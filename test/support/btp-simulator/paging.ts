// Service Manager list paging: `max_items` and an opaque `token` that names the last item
// of the previous page by its creation sequence, so deleting items between pages is safe.
import { InputError } from './input.ts';

export const DEFAULT_MAX_ITEMS = 50;
export const MAX_MAX_ITEMS = 200;

export interface Page<T> {
  readonly numItems: number;
  readonly items: readonly T[];
  readonly token: string | undefined;
}

export function parseMaxItems(value: string | null): number {
  if (value === null) return DEFAULT_MAX_ITEMS;
  if (!/^\d+$/.test(value) || Number(value) > MAX_MAX_ITEMS) {
    throw new InputError(`max_items must be an integer from 0 to ${MAX_MAX_ITEMS}`);
  }
  return Number(value);
}

function decodeToken(token: string): number {
  const decoded = Buffer.from(token, 'base64url').toString('utf8');
  if (!/^seq:\d+$/.test(decoded)) throw new InputError('token is not a valid paging token');
  return Number(decoded.slice(4));
}

/** One page of `items` (sorted by `sequence`, ascending) after the item named by `token`. */
export function pageOf<T>(
  items: readonly T[],
  sequence: (item: T) => number,
  maxItems: number,
  token: string | null,
): Page<T> {
  const after = token === null || token === '' ? -1 : decodeToken(token);
  const rest = items.filter((item) => sequence(item) > after);
  const page = rest.slice(0, maxItems);
  const last = page.at(-1);
  const more = maxItems > 0 && rest.length > page.length && last !== undefined;
  return {
    numItems: items.length,
    items: page,
    token: more ? Buffer.from(`seq:${sequence(last)}`).toString('base64url') : undefined,
  };
}
