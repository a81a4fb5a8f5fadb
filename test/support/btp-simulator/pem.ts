// PEM text helpers: encode DER, split a concatenated chain into its blocks.

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n[\s\S]*?-----END \1-----\r?\n?/g;

export function pemEncode(label: string, der: Uint8Array): string {
  const base64 = Buffer.from(der).toString('base64');
  const lines: string[] = [];
  for (let index = 0; index < base64.length; index += 64) lines.push(base64.slice(index, index + 64));
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

/** The PEM blocks of `text` in order, each ending with a newline. */
export function pemBlocks(text: string): string[] {
  return Array.from(text.matchAll(PEM_BLOCK), (match) =>
    match[0].endsWith('\n') ? match[0] : `${match[0]}\n`,
  );
}
