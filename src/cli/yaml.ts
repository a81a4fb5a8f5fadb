// YAML for -o yaml, for plain JSON data only (objects, arrays, strings, finite numbers, booleans,
// null): block style, and every string that a YAML reader could take for anything but that string
// written as a JSON string (every control escaped, as YAML wants), which YAML 1.2 reads as the
// same double-quoted scalar. A library would be one more runtime dependency of the operator's
// image for a few lines of the plugin.

import { jsonText } from './format.ts';

/** Strings that stay unquoted: a letter first, then word characters, dots, slashes and dashes. */
const PLAIN = /^[A-Za-z][A-Za-z0-9_./-]*$/;
/** Words YAML 1.1 readers (and some 1.2 ones) take for booleans or null. */
const KEYWORDS = new Set(['y', 'n', 'yes', 'no', 'on', 'off', 'true', 'false', 'null']);

function scalar(value: string): string {
  return PLAIN.test(value) && !KEYWORDS.has(value.toLowerCase()) ? value : jsonText(value);
}

function isEmpty(value: unknown): boolean {
  if (Array.isArray(value)) return value.length === 0;
  return typeof value === 'object' && value !== null && Object.keys(value).length === 0;
}

function inline(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'string') return scalar(value);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (Array.isArray(value)) return '[]';
  return '{}';
}

function isBlock(value: unknown): boolean {
  return typeof value === 'object' && value !== null && !isEmpty(value);
}

function lines(value: unknown, indent: string): string[] {
  const out: string[] = [];
  if (Array.isArray(value)) {
    for (const item of value) {
      if (!isBlock(item)) {
        out.push(`${indent}- ${inline(item)}`);
        continue;
      }
      // The first line of the item goes after the dash; the rest is indented under it.
      const inner = lines(item, `${indent}  `);
      out.push(`${indent}- ${(inner[0] ?? '').slice(indent.length + 2)}`, ...inner.slice(1));
    }
    return out;
  }
  for (const [key, child] of Object.entries(value as Record<string, unknown>)) {
    if (!isBlock(child)) {
      out.push(`${indent}${scalar(key)}: ${inline(child)}`);
      continue;
    }
    out.push(`${indent}${scalar(key)}:`);
    // Sequences under a key are written at the key's indentation, as kubectl does.
    out.push(...lines(child, Array.isArray(child) ? indent : `${indent}  `));
  }
  return out;
}

/** The YAML document for JSON data; keys whose value is undefined are left out, as in JSON. */
export function toYaml(value: unknown): string {
  // What JSON.stringify would write, as data: undefined members gone, toJSON applied (dates).
  const data: unknown = value === undefined ? null : JSON.parse(JSON.stringify(value));
  if (!isBlock(data)) return `${inline(data)}\n`;
  return `${lines(data, '').join('\n')}\n`;
}
