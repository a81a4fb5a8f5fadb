// What a terminal would act on in a text meant for people: C0 controls other than the line feed,
// DEL, C1 controls (U+009B is CSI to some terminals), the Unicode line and paragraph separators,
// and the bidirectional overrides and isolates that reorder what is shown.

export function terminalControls(text: string): string[] {
  const found: string[] = [];
  for (const ch of text) {
    const c = ch.codePointAt(0) ?? 0;
    const control =
      (c < 0x20 && c !== 0x0a) ||
      (c >= 0x7f && c <= 0x9f) ||
      c === 0x2028 ||
      c === 0x2029 ||
      (c >= 0x202a && c <= 0x202e) ||
      (c >= 0x2066 && c <= 0x2069);
    if (control) found.push(`U+${c.toString(16).toUpperCase().padStart(4, '0')}`);
  }
  return found;
}
