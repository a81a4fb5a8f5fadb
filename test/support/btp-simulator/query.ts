// The Service Manager's fieldQuery / labelQuery language, the part the operator uses:
//   criterion  := key op value | key ('in' | 'notin') '(' value (',' value)* ')'
//   query      := criterion ('and' criterion)*
//   op         := 'eq' | 'ne'
//   value      := '<text with '' for a quote>' | bare literal (true, 42)
// Anything else is a syntax error, answered with 400 by the Service Manager.
import { InputError } from './input.ts';

export const QUERY_OPERATORS = ['eq', 'ne', 'in', 'notin'] as const;
export type QueryOperator = (typeof QUERY_OPERATORS)[number];

export interface Criterion {
  readonly key: string;
  readonly operator: QueryOperator;
  readonly values: readonly string[];
}

type Token =
  | { readonly kind: 'word'; readonly text: string }
  | { readonly kind: 'string'; readonly text: string }
  | { readonly kind: 'open' | 'close' | 'comma' };

function tokenize(query: string): Token[] {
  const tokens: Token[] = [];
  let index = 0;
  while (index < query.length) {
    const char = query.charAt(index);
    if (/\s/.test(char)) {
      index += 1;
    } else if (char === '(' || char === ')' || char === ',') {
      tokens.push({ kind: char === '(' ? 'open' : char === ')' ? 'close' : 'comma' });
      index += 1;
    } else if (char === "'") {
      let text = '';
      index += 1;
      for (;;) {
        if (index >= query.length) throw new InputError('query has an unterminated string');
        const next = query.charAt(index);
        if (next === "'") {
          if (query.charAt(index + 1) === "'") {
            text += "'";
            index += 2;
            continue;
          }
          index += 1;
          break;
        }
        text += next;
        index += 1;
      }
      tokens.push({ kind: 'string', text });
    } else {
      const match = /^[^\s(),']+/.exec(query.slice(index));
      const text = match?.[0] ?? char;
      tokens.push({ kind: 'word', text });
      index += text.length;
    }
  }
  return tokens;
}

function describe(token: Token | undefined): string {
  if (token === undefined) return 'end of query';
  return token.kind === 'word' || token.kind === 'string' ? `'${token.text}'` : token.kind;
}

/** Parses a fieldQuery or labelQuery; throws InputError on any syntax error. */
export function parseQuery(query: string): Criterion[] {
  const tokens = tokenize(query);
  const criteria: Criterion[] = [];
  let position = 0;
  const next = (): Token | undefined => tokens[position++];
  const value = (token: Token | undefined): string => {
    if (token?.kind === 'string' || token?.kind === 'word') return token.text;
    throw new InputError(`query: expected a value, found ${describe(token)}`);
  };
  if (tokens.length === 0) throw new InputError('query is empty');
  for (;;) {
    const keyToken = next();
    if (keyToken?.kind !== 'word') throw new InputError(`query: expected a key, found ${describe(keyToken)}`);
    const operatorToken = next();
    const operator = QUERY_OPERATORS.find(
      (candidate) => operatorToken?.kind === 'word' && operatorToken.text === candidate,
    );
    if (operator === undefined)
      throw new InputError(`query: unsupported operator ${describe(operatorToken)}`);
    if (operator === 'in' || operator === 'notin') {
      const open = next();
      if (open?.kind !== 'open')
        throw new InputError(`query: expected '(' after ${operator}, found ${describe(open)}`);
      const values = [value(next())];
      for (;;) {
        const separator = next();
        if (separator?.kind === 'close') break;
        if (separator?.kind !== 'comma')
          throw new InputError(`query: expected ',' or ')', found ${describe(separator)}`);
        values.push(value(next()));
      }
      criteria.push({ key: keyToken.text, operator, values });
    } else {
      criteria.push({ key: keyToken.text, operator, values: [value(next())] });
    }
    const joiner = next();
    if (joiner === undefined) return criteria;
    if (joiner.kind !== 'word' || joiner.text !== 'and') {
      throw new InputError(`query: expected 'and', found ${describe(joiner)}`);
    }
  }
}

/** Checks that every criterion names one of `fields`; unknown keys are a 400 in the SM. */
export function requireKnownFields(criteria: readonly Criterion[], fields: readonly string[]): void {
  for (const criterion of criteria) {
    if (!fields.includes(criterion.key))
      throw new InputError(`fieldQuery: unsupported field '${criterion.key}'`);
  }
}

function test(operator: QueryOperator, candidates: readonly string[], values: readonly string[]): boolean {
  const hit = candidates.some((candidate) => values.includes(candidate));
  return operator === 'eq' || operator === 'in' ? hit : !hit;
}

export function matchesFields(
  criteria: readonly Criterion[],
  fields: Readonly<Record<string, string>>,
): boolean {
  return criteria.every((criterion) => {
    const field = fields[criterion.key];
    return test(criterion.operator, field === undefined ? [] : [field], criterion.values);
  });
}

/**
 * A label criterion holds when one of the label's values matches (eq, in) or when none
 * does (ne, notin; a missing label matches ne and notin).
 */
export function matchesLabels(
  criteria: readonly Criterion[],
  labels: Readonly<Record<string, readonly string[]>>,
): boolean {
  return criteria.every((criterion) =>
    test(criterion.operator, labels[criterion.key] ?? [], criterion.values),
  );
}
