// PEM text (RFC 7468) as it arrives from BTP, Secrets and people: CRLF line endings, indentation,
// text between blocks, a missing trailing newline, blocks run together on one line. This file finds
// the blocks and decodes their base64; it knows nothing about what the blocks hold.

/** A BEGIN ... END pair with the same label. */
export type PemBlock = {
  readonly kind: 'block';
  readonly label: string;
  /** RFC 1421 header lines ("Proc-Type: 4,ENCRYPTED"), trimmed; empty for modern PEM. */
  readonly headers: readonly string[];
  /** The base64 lines as delivered, each trimmed of surrounding whitespace. */
  readonly lines: readonly string[];
  /** The decoded body, or null when the body is not strict base64 (garbled or cut). */
  readonly der: Buffer | null;
};

/** A marker without its partner: a block cut short or run into another one. */
export type BrokenPem = {
  readonly kind: 'unterminated' | 'unopened' | 'mismatched';
  readonly label: string;
};

export type PemItem = PemBlock | BrokenPem;

const MARKER = /-----(BEGIN|END) ([^\n-]+)-----/g;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
const HEADER = /^[A-Za-z0-9-]+:/;

/** Every PEM block of `text`, in order. Text outside blocks is ignored. */
export function scanPem(text: string): PemItem[] {
  const normalized = text.replace(/\r\n?/g, '\n');
  const items: PemItem[] = [];
  let open: { label: string; contentStart: number } | null = null;
  for (const match of normalized.matchAll(MARKER)) {
    const [marker, kind, label = ''] = match;
    if (kind === 'BEGIN') {
      if (open !== null) items.push({ kind: 'unterminated', label: open.label });
      open = { label, contentStart: match.index + marker.length };
    } else if (open === null) {
      items.push({ kind: 'unopened', label });
    } else if (label !== open.label) {
      items.push({ kind: 'mismatched', label: open.label });
      open = null;
    } else {
      items.push(parseBody(label, normalized.slice(open.contentStart, match.index)));
      open = null;
    }
  }
  if (open !== null) items.push({ kind: 'unterminated', label: open.label });
  return items;
}

function parseBody(label: string, content: string): PemBlock {
  const rawLines = content.split('\n').map((line) => line.trim());
  let at = 0;
  while (at < rawLines.length && rawLines[at] === '') at++;
  const headers: string[] = [];
  if (HEADER.test(rawLines[at] ?? '')) {
    while (at < rawLines.length && rawLines[at] !== '') headers.push(rawLines[at++] ?? '');
  }
  // Splitting on any whitespace keeps well-formed input line for line and also recovers a body
  // whose newlines were turned into spaces on the way (environment variables, copy and paste).
  const lines = rawLines
    .slice(at)
    .join('\n')
    .split(/\s+/)
    .filter((line) => line !== '');
  const base64 = lines.join('');
  const der = base64.length % 4 === 0 && BASE64.test(base64) ? Buffer.from(base64, 'base64') : null;
  return { kind: 'block', label, headers, lines, der };
}

/** Canonical PEM: 64-character base64 lines, LF line endings, a trailing newline. */
export function encodePem(label: string, der: Uint8Array): string {
  const base64 = Buffer.from(der).toString('base64');
  const lines: string[] = [];
  for (let at = 0; at < base64.length; at += 64) lines.push(base64.slice(at, at + 64));
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

/** A block as delivered, reduced to its own lines: LF endings, no surrounding text, one final newline. */
export function blockText(block: PemBlock): string {
  const head = block.headers.length > 0 ? `${block.headers.join('\n')}\n\n` : '';
  return `-----BEGIN ${block.label}-----\n${head}${block.lines.join('\n')}\n-----END ${block.label}-----\n`;
}

const LABEL_DESCRIPTIONS: Readonly<Record<string, string>> = {
  CERTIFICATE: 'a certificate',
  'TRUSTED CERTIFICATE': 'an OpenSSL trusted certificate',
  'X509 CRL': 'a certificate revocation list',
  'CERTIFICATE REQUEST': 'a certificate signing request',
  'NEW CERTIFICATE REQUEST': 'a certificate signing request',
  PKCS7: 'a PKCS#7 structure',
  'PUBLIC KEY': 'a public key',
  'RSA PUBLIC KEY': 'an RSA public key',
  'PRIVATE KEY': 'a PKCS#8 private key',
  'RSA PRIVATE KEY': 'a PKCS#1 RSA private key',
  'EC PRIVATE KEY': 'a SEC1 EC private key',
  'ENCRYPTED PRIVATE KEY': 'an encrypted PKCS#8 private key',
  'DSA PRIVATE KEY': 'a DSA private key',
  'OPENSSH PRIVATE KEY': 'an OpenSSH private key',
  'EC PARAMETERS': 'EC parameters',
};

/**
 * What a block holds, in words for an error message. Labels come from the input, so an unknown
 * label is never echoed.
 */
export function describeLabel(label: string): string {
  return Object.hasOwn(LABEL_DESCRIPTIONS, label)
    ? (LABEL_DESCRIPTIONS[label] ?? 'a PEM block')
    : 'a PEM block of an unrecognised type';
}
