// Small text helpers for human output: times with their distance from now, aligned tables.

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
  const widths: number[] = [];
  for (const row of rows) {
    row.forEach((cell, i) => {
      widths[i] = Math.max(widths[i] ?? 0, cell.length);
    });
  }
  return rows.map(
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
  return shown.map(([label, value]) => `${indent}${`${label}:`.padEnd(width)}  ${value}`);
}
