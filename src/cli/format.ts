// Small text helpers for human output: times with their distance from now, aligned tables, and
// text a namespace user wrote (annotations, messages, certificate names) made harmless for a
// terminal.

/**
 * Characters a terminal acts on or that change what is shown: C0 controls (line feed included: a
 * value is one line), DEL, C1 controls (U+009B is CSI to some terminals), the Unicode line and
 * paragraph separators, bidirectional overrides and isolates.
 */
const TERMINAL_CONTROL = /[\p{Cc}\u2028\u2029\u202a-\u202e\u2066-\u2069]/gu;
const NAMED_ESCAPES: Readonly<Record<string, string>> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/** The text with every terminal control written as an escape (\n, \u001b), as JSON would. */
export function printable(text: string): string {
  return text.replace(
    TERMINAL_CONTROL,
    (ch) => NAMED_ESCAPES[ch] ?? `\\u${(ch.codePointAt(0) ?? 0).toString(16).padStart(4, '0')}`,
  );
}

/**
 * JSON text with the controls JSON.stringify leaves as they are (DEL, C1, U+2028, U+2029) escaped
 * too: the same data, and valid inside a YAML double-quoted scalar as well.
 */
export function jsonText(value: unknown, space?: number): string {
  // Strings' C0 controls are escaped already; a raw line feed is the indentation's own.
  return JSON.stringify(value, null, space).replace(
    /(?!\n)[\p{Cc}\u2028\u2029]/gu,
    (ch) => `\\u${(ch.codePointAt(0) ?? 0).toString(16).padStart(4, '0')}`,
  );
}

/** Each line of a text made printable, the line breaks kept. */
export function printableLines(text: string): string {
  return text.split('\n').map(printable).join('\n');
}

/** "3m", "2d4h", "45s": the two largest units, as kubectl prints ages. */
export function shortDuration(ms: number): string {
  const s = Math.floor(Math.abs(ms) / 1000);
  const units: readonly [string, number][] = [
    ['d', 86_400],
    ['h', 3_600],
    ['m', 60],
    ['s', 1],
  ];
  const parts: string[] = [];
  let rest = s;
  for (const [unit, size] of units) {
    if (parts.length === 2) break;
    const n = Math.floor(rest / size);
    if (n > 0 || (parts.length === 0 && size === 1)) parts.push(`${n}${unit}`);
    else if (parts.length > 0) break;
    rest -= n * size;
  }
  return parts.join('');
}

/** An ISO time with its distance from now: "2026-12-05T00:10:41Z (in 2d4h)", "... (3m ago)". */
export function when(iso: string | undefined, now: Date): string {
  if (iso === undefined) return '-';
  const at = Date.parse(iso);
  if (Number.isNaN(at)) return iso;
  const diff = at - now.getTime();
  return `${iso} (${diff >= 0 ? `in ${shortDuration(diff)}` : `${shortDuration(diff)} ago`})`;
}

/** Rows as columns separated by three spaces, the last column unpadded (kubectl's layout). */
export function table(rows: readonly (readonly string[])[], indent = ''): string[] {
  const cells = rows.map((row) => row.map(printable));
  const widths: number[] = [];
  for (const row of cells) {
    row.forEach((cell, i) => {
      widths[i] = Math.max(widths[i] ?? 0, cell.length);
    });
  }
  return cells.map(
    (row) =>
      indent +
      row
        .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
        .join('   ')
        .trimEnd(),
  );
}

/** "Label:" value pairs with the values aligned. */
export function fields(pairs: readonly (readonly [string, string | undefined])[], indent = ''): string[] {
  const shown = pairs.filter((p): p is readonly [string, string] => p[1] !== undefined);
  const width = Math.max(0, ...shown.map(([label]) => label.length + 1));
  return shown.map(([label, value]) => `${indent}${`${label}:`.padEnd(width)}  ${printable(value)}`);
}
