// Service Manager fieldQuery / labelQuery text, built safely (btp.md §4): criteria `key op value`
// joined by `and`; values always single-quoted with a quote doubled (`'` -> `''`), so a name or
// uid can never end the string early and inject another criterion.
import { BtpError } from './errors.ts';

export type QueryCriterion =
  | { readonly key: string; readonly op: 'eq' | 'ne'; readonly value: string }
  | { readonly key: string; readonly op: 'in' | 'notin'; readonly values: readonly string[] };

/** A key is one bare word of the query language: no spaces, quotes, parentheses or commas. */
const KEY = /^[^\s(),']+$/;
const RESERVED = new Set(['and', 'or', 'eq', 'ne', 'in', 'notin']);
// biome-ignore lint/suspicious/noControlCharactersInRegex: rejecting control characters is the point
const CONTROL = /[\u0000-\u001f\u007f]/;

export function quoteQueryValue(value: string): string {
  if (CONTROL.test(value)) throw new BtpError('BtpBadRequest', 'a query value contains control characters');
  return `'${value.replaceAll("'", "''")}'`;
}

function checkKey(key: string): string {
  if (!KEY.test(key) || RESERVED.has(key)) {
    throw new BtpError('BtpBadRequest', 'a query key is empty or not a single word');
  }
  return key;
}

/** `name eq 'a' and service_instance_id in ('x', 'y')`; throws BtpBadRequest for unusable input. */
export function buildQuery(criteria: readonly QueryCriterion[]): string {
  if (criteria.length === 0) throw new BtpError('BtpBadRequest', 'a query needs at least one criterion');
  return criteria
    .map((criterion) => {
      const key = checkKey(criterion.key);
      if ('value' in criterion) return `${key} ${criterion.op} ${quoteQueryValue(criterion.value)}`;
      if (criterion.values.length === 0) {
        throw new BtpError('BtpBadRequest', `a query '${criterion.op}' needs at least one value`);
      }
      return `${key} ${criterion.op} (${criterion.values.map(quoteQueryValue).join(', ')})`;
    })
    .join(' and ');
}

/** The common case: every key equals its value. `{name: 'a', service_instance_id: 'x'}`. */
export function equalsQuery(fields: Readonly<Record<string, string>>): string {
  return buildQuery(Object.entries(fields).map(([key, value]) => ({ key, op: 'eq' as const, value })));
}
