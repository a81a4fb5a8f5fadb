import { describe, expect, it } from 'vitest';
import { InputError } from '../support/btp-simulator/input.ts';
import { matchesFields, matchesLabels, parseQuery } from '../support/btp-simulator/query.ts';

describe('parseQuery', () => {
  it.each([
    ["name eq 'x'", [{ key: 'name', operator: 'eq', values: ['x'] }]],
    [
      "name eq 'x' and service_instance_id eq 'y'",
      [
        { key: 'name', operator: 'eq', values: ['x'] },
        { key: 'service_instance_id', operator: 'eq', values: ['y'] },
      ],
    ],
    ["name ne 'it''s'", [{ key: 'name', operator: 'ne', values: ["it's"] }]],
    ["name in ('a', 'b','c')", [{ key: 'name', operator: 'in', values: ['a', 'b', 'c'] }]],
    ["name notin ('a')", [{ key: 'name', operator: 'notin', values: ['a'] }]],
    ['ready eq true', [{ key: 'ready', operator: 'eq', values: ['true'] }]],
    ["  name   eq   'spaced  value'  ", [{ key: 'name', operator: 'eq', values: ['spaced  value'] }]],
    ["a.b/c eq 'v'", [{ key: 'a.b/c', operator: 'eq', values: ['v'] }]],
  ])('parses %s', (query, expected) => {
    expect(parseQuery(query)).toEqual(expected);
  });

  it.each([
    [''],
    ['name'],
    ["name = 'x'"],
    ["name eq 'x"],
    ["name eq 'x' or name eq 'y'"],
    ["name eq 'x' and"],
    ["name in 'x'"],
    ["name in ('x'"],
    ["name in ('x' 'y')"],
    ["name eq 'x' name eq 'y'"],
    ['(name eq x)'],
  ])('rejects %j', (query) => {
    expect(() => parseQuery(query)).toThrow(InputError);
  });
});

describe('matching', () => {
  const fields = { name: 'n1', service_instance_id: 'i1' };
  const labels = { tier: ['gold', 'silver'], owner: ['me'] };

  it.each([
    ["name eq 'n1'", true],
    ["name ne 'n1'", false],
    ["name in ('n0', 'n1')", true],
    ["name notin ('n0', 'n1')", false],
    ["name eq 'n1' and service_instance_id eq 'i2'", false],
  ])('fields: %s -> %s', (query, expected) => {
    expect(matchesFields(parseQuery(query), fields)).toBe(expected);
  });

  it.each([
    ["tier eq 'gold'", true],
    ["tier eq 'bronze'", false],
    ["tier ne 'gold'", false],
    ["missing ne 'x'", true],
    ["missing eq 'x'", false],
    ["tier in ('bronze', 'silver') and owner eq 'me'", true],
    ["tier notin ('bronze')", true],
  ])('labels: %s -> %s', (query, expected) => {
    expect(matchesLabels(parseQuery(query), labels)).toBe(expected);
  });
});
