import { describe, expect, it } from 'vitest';
import { blockText, encodePem, type PemItem, scanPem } from '../../../src/pki/pem.ts';

const BODY_A = Buffer.from('first block body, long enough to need more than one line of base64 text');
const BODY_B = Buffer.from('second');
const A = encodePem('CERTIFICATE', BODY_A);
const B = encodePem('CERTIFICATE', BODY_B);

function summary(items: readonly PemItem[]): unknown[] {
  return items.map((item) =>
    item.kind === 'block' ? { label: item.label, der: item.der?.toString() ?? null } : item,
  );
}

describe('encodePem', () => {
  it('writes 64-character lines, LF endings and a trailing newline', () => {
    const lines = A.split('\n');
    expect(lines[0]).toBe('-----BEGIN CERTIFICATE-----');
    expect(lines[1]).toHaveLength(64);
    expect(lines.at(-2)).toBe('-----END CERTIFICATE-----');
    expect(lines.at(-1)).toBe('');
    expect(A).not.toContain('\r');
  });
});

describe('scanPem', () => {
  const expectedAB = [
    { label: 'CERTIFICATE', der: BODY_A.toString() },
    { label: 'CERTIFICATE', der: BODY_B.toString() },
  ];

  it.each([
    ['LF, one block after the other', A + B],
    ['CRLF line endings', (A + B).replaceAll('\n', '\r\n')],
    ['bare CR line endings', (A + B).replaceAll('\n', '\r')],
    ['indentation and trailing spaces', (A + B).replaceAll('\n', '  \n    ')],
    ['text before, between and after the blocks', `subject=CN=x\n${A}issuer=CN=y\n\n${B}trailer`],
    ['no trailing newline', (A + B).trimEnd()],
    ['END and the next BEGIN on one line', A.trimEnd() + B],
    ['body newlines turned into spaces', (A + B).replaceAll('\n', ' ')],
  ])('finds both blocks: %s', (_, text) => {
    expect(summary(scanPem(text))).toEqual(expectedAB);
  });

  it('finds nothing in text without markers', () => {
    expect(scanPem('')).toEqual([]);
    expect(scanPem('just some words\nand more')).toEqual([]);
  });

  it('reports a block without an END line as unterminated', () => {
    const cut = A.slice(0, 50);
    expect(summary(scanPem(cut + B))).toEqual([
      { kind: 'unterminated', label: 'CERTIFICATE' },
      { label: 'CERTIFICATE', der: BODY_B.toString() },
    ]);
    expect(summary(scanPem(cut))).toEqual([{ kind: 'unterminated', label: 'CERTIFICATE' }]);
  });

  it('reports an END line without a BEGIN line as unopened', () => {
    expect(summary(scanPem(A.slice(40)))).toEqual([{ kind: 'unopened', label: 'CERTIFICATE' }]);
  });

  it('reports an END label that differs from the BEGIN label as mismatched', () => {
    const text = A.replace('END CERTIFICATE', 'END PRIVATE KEY');
    expect(summary(scanPem(text))).toEqual([{ kind: 'mismatched', label: 'CERTIFICATE' }]);
  });

  it.each([
    ['a character outside base64', A.replace(/(\n.{10})./, '$1*')],
    ['a line dropped, leaving a length that is not a multiple of 4', A.replace(/\n[^\n]{64}\n/, '\nAB\n')],
    ['padding in the middle', A.replace(/(\n.{10})../, '$1==')],
    ['an empty body', '-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n'],
  ])('gives der null for a body that is not strict base64: %s', (_, text) => {
    const [item] = scanPem(text);
    expect(item).toMatchObject({ kind: 'block', label: 'CERTIFICATE', der: null });
  });

  it('separates RFC 1421 headers from the body', () => {
    const text = encodePem('RSA PRIVATE KEY', BODY_B).replace(
      '-----\n',
      '-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-256-CBC,00112233\n\n',
    );
    const [item] = scanPem(text);
    expect(item).toMatchObject({
      kind: 'block',
      headers: ['Proc-Type: 4,ENCRYPTED', 'DEK-Info: AES-256-CBC,00112233'],
    });
    expect(item?.kind === 'block' && item.der?.toString()).toBe('second');
  });
});

describe('blockText', () => {
  it('gives the block as delivered, without the text around it, LF endings and one final newline', () => {
    const delivered = `leading text\r\n${A.replaceAll('\n', '\r\n').trimEnd()}   \r\n\r\ntrailing text`;
    const [item] = scanPem(delivered);
    expect(item?.kind).toBe('block');
    if (item?.kind === 'block') expect(blockText(item)).toBe(A);
  });

  it('keeps the delivered line length', () => {
    const base64 = BODY_A.toString('base64');
    const wrapped76 = `-----BEGIN PRIVATE KEY-----\n${base64.slice(0, 76)}\n${base64.slice(76)}\n-----END PRIVATE KEY-----\n`;
    const [item] = scanPem(wrapped76);
    if (item?.kind !== 'block') throw new Error('expected a block');
    expect(blockText(item)).toBe(wrapped76);
  });
});
