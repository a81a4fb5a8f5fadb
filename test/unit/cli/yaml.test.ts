// -o yaml: the small emitter must write YAML that a YAML reader reads back as the same JSON data,
// whatever the strings hold.
import { load } from 'js-yaml';
import { describe, expect, it } from 'vitest';
import { jsonText } from '../../../src/cli/format.ts';
import { toYaml } from '../../../src/cli/yaml.ts';

const TRICKY_STRINGS = [
  '',
  ' ',
  'plain',
  'yes',
  'No',
  'on',
  'OFF',
  'y',
  'null',
  'Null',
  '~',
  'true',
  'False',
  '0',
  '1.5',
  '0x1F',
  '1e3',
  '.inf',
  '-.nan',
  '2026-11-29T23:40:40Z',
  '2026-11-29',
  '12:30:00',
  'a: b',
  'a #b',
  '#comment',
  '- item',
  '? key',
  '[flow]',
  '{flow}',
  '&anchor',
  '*alias',
  '!tag',
  '|',
  '>',
  '%directive',
  '@at',
  '`tick',
  "'single'",
  '"double"',
  'multi\nline\n',
  'tab\there',
  'trailing ',
  ' leading',
  'back\\slash',
  'unicode: é ü 雪 \u2028 \u0085',
  'control \u0001 \u007f',
  '---',
  '...',
  'btpcerts.io/renew-requested-at',
  'CN=x, OU=y, O=SAP SE, C=DE',
  '5B:39:14:9D',
  'https://host:8443/oauth/token?x=1',
];

describe('toYaml', () => {
  it.each(TRICKY_STRINGS)('writes the string %j so that it reads back as itself', (text) => {
    const data = { [text]: text, list: [text, { [text]: [text] }] };
    expect(load(toYaml(data))).toEqual(data);
    expect(load(toYaml(text))).toEqual(text);
  });

  it('writes nested objects, lists, empty ones, numbers, booleans and null', () => {
    const data = {
      a: 1,
      b: -2.5,
      c: true,
      d: false,
      e: null,
      f: {},
      g: [],
      h: [[1, [2, 3]], [], {}, { x: [{ y: { z: [null] } }] }],
      i: { j: { k: 'v' }, l: [{ m: 1, n: [] }] },
      'spaced key': 'v',
      0: 'numeric key',
    };
    expect(load(toYaml(data))).toEqual(data);
  });

  it('leaves out undefined members and writes dates as JSON does', () => {
    const at = new Date('2026-11-29T23:40:40.123Z');
    expect(load(toYaml({ a: undefined, b: { c: undefined }, at }))).toEqual({ b: {}, at: at.toISOString() });
  });

  it('writes block style, sequences at their key, as kubectl does', () => {
    expect(toYaml({ items: [{ name: 'a', outcome: 'Succeeded' }], empty: [], count: 2 })).toBe(
      'items:\n- name: a\n  outcome: Succeeded\nempty: []\ncount: 2\n',
    );
  });

  it('writes numbers JSON cannot carry as null, as JSON does', () => {
    expect(load(toYaml({ n: Number.NaN }))).toEqual({ n: null });
  });
});

describe('toYaml of text a namespace user wrote', () => {
  it('escapes every control character, as YAML requires in double-quoted scalars', () => {
    const hostile = 'a\u001b[2J\u007f\u009b\u0085\u2028\u2029b';
    const yaml = toYaml({ message: hostile });
    expect(yaml).toBe('message: "a\\u001b[2J\\u007f\\u009b\\u0085\\u2028\\u2029b"\n');
    expect(load(yaml)).toEqual({ message: hostile });
  });
});

describe('jsonText (-o json)', () => {
  it('is the same data, indented, with DEL, C1 and the separators escaped too', () => {
    const data = { message: 'a\u001b\u007f\u009b\u2028b', list: [1, { x: null }] };
    const text = jsonText(data, 2);
    expect(JSON.parse(text)).toEqual(data);
    expect(text).toContain('\n  "message": "a\\u001b\\u007f\\u009b\\u2028b",\n');
  });
});
