// The PKI module's input caps (issue 10): a certificate or key text over 64 KiB, a chain of more
// than 10 certificates and a CA bundle over 256 KiB or 100 certificates are refused with
// InputTooLarge before they are parsed, and the messages name sizes, never content. The CA bundle
// inputs are the ones the old /-----BEGIN CERTIFICATE-----[\s\S]+?-----END.../ took seconds on.
import { describe, expect, it } from 'vitest';
import {
  caBundleCertificates,
  certificateInfo,
  MAX_CA_BUNDLE_BYTES,
  MAX_CA_BUNDLE_CERTIFICATES,
  MAX_CERTIFICATES,
  MAX_PEM_TEXT_BYTES,
  parseCredentialPems,
} from '../../../src/pki/index.ts';
import { scanPem } from '../../../src/pki/pem.ts';
import { buildHierarchy, concat, keyPem, NOW } from './fixtures.ts';

const h = buildHierarchy();
const chain = concat(h.leaf, h.intermediate, h.root);
const key = keyPem(h.leaf.key, 'pkcs1');
/** Text after the blocks, which PEM allows: it makes a text large without changing its blocks. */
const padding = (bytes: number) => `\n${'#'.repeat(bytes)}\n`;

describe('certificate and key texts', () => {
  it('refuses a certificate text over 64 KiB without reading its blocks', () => {
    const certificate = chain + padding(MAX_PEM_TEXT_BYTES);
    const size = Buffer.byteLength(certificate);
    const result = parseCredentialPems({ certificate, key, now: NOW });
    expect(result).toEqual({
      ok: false,
      error: {
        code: 'InputTooLarge',
        message: `the certificate text is ${size} bytes; at most 64 KiB are accepted`,
      },
    });
    expect(certificateInfo(certificate)).toEqual(result);
  });

  it('refuses a key text over 64 KiB', () => {
    const big = key + padding(MAX_PEM_TEXT_BYTES);
    const result = parseCredentialPems({ certificate: chain, key: big, now: NOW });
    expect(result).toEqual({
      ok: false,
      error: {
        code: 'InputTooLarge',
        message: `the key text is ${Buffer.byteLength(big)} bytes; at most 64 KiB are accepted`,
      },
    });
  });

  it('takes texts of exactly 64 KiB', () => {
    const certificate = chain + padding(MAX_PEM_TEXT_BYTES - chain.length - 2);
    expect(Buffer.byteLength(certificate)).toBe(MAX_PEM_TEXT_BYTES);
    expect(parseCredentialPems({ certificate, key, now: NOW }).ok).toBe(true);
  });

  it(`counts a chain of ${MAX_CERTIFICATES} certificates as a chain, ${MAX_CERTIFICATES + 1} as too many`, () => {
    const ten = concat(h.leaf, h.intermediate, h.root, ...Array.from({ length: 7 }, () => h.root));
    const tenResult = parseCredentialPems({ certificate: ten, key, now: NOW });
    // Ten blocks are read (and the duplicates judged by the chain check), not refused for their number.
    expect(tenResult.ok ? 'ok' : tenResult.error.code).not.toBe('InputTooLarge');
    const eleven = ten + h.root.pem;
    expect(parseCredentialPems({ certificate: eleven, key, now: NOW })).toEqual({
      ok: false,
      error: {
        code: 'InputTooLarge',
        message: 'the certificate text holds 11 PEM blocks; a chain of at most 10 certificates is accepted',
      },
    });
  });
});

describe('CA bundles', () => {
  it('counts the certificates of a bundle', () => {
    expect(caBundleCertificates(concat(h.intermediate, h.root))).toEqual({ ok: true, value: 2 });
  });

  it('refuses a 486 KB bundle of BEGIN lines without an END (seconds in the old pattern)', () => {
    const bundle = '-----BEGIN CERTIFICATE-----\n'.repeat(Math.ceil(486_000 / 28));
    const result = caBundleCertificates(bundle);
    expect(result).toEqual({
      ok: false,
      error: {
        code: 'InputTooLarge',
        message: `the CA bundle text is ${bundle.length} bytes; at most 256 KiB are accepted`,
      },
    });
  });

  it('finds no certificate in 256 KiB of BEGIN lines without an END, in one scan', () => {
    const line = '-----BEGIN CERTIFICATE-----\n';
    const bundle = line.repeat(Math.floor(MAX_CA_BUNDLE_BYTES / line.length));
    expect(caBundleCertificates(bundle)).toEqual({
      ok: false,
      error: { code: 'InvalidCertificate', message: 'the CA bundle holds no PEM certificate' },
    });
  });

  it(`takes ${MAX_CA_BUNDLE_CERTIFICATES} certificates and refuses ${MAX_CA_BUNDLE_CERTIFICATES + 1}`, () => {
    const hundred = Array.from({ length: MAX_CA_BUNDLE_CERTIFICATES }, () => h.root.pem).join('');
    expect(caBundleCertificates(hundred)).toEqual({ ok: true, value: 100 });
    expect(caBundleCertificates(hundred + h.root.pem)).toEqual({
      ok: false,
      error: {
        code: 'InputTooLarge',
        message: 'the CA bundle holds 101 certificates; at most 100 are accepted',
      },
    });
  });
});

describe('the PEM scanner on hostile text', () => {
  it('reads 1 MB of markers that never close as broken items, in one pass', () => {
    // Each BEGIN runs into the next one's dashes: every other one is read as an unterminated block.
    const text = `-----BEGIN ${'a'.repeat(40)}`.repeat(20_000);
    const items = scanPem(text);
    expect(items).toHaveLength(10_000);
    expect(items.every((item) => item.kind === 'unterminated')).toBe(true);
    const opened = '-----BEGIN X-----\n'.repeat(50_000);
    expect(scanPem(opened)).toHaveLength(50_000);
    expect(scanPem(opened).every((item) => item.kind === 'unterminated')).toBe(true);
  });
});
