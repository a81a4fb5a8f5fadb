// Keystore files as the Destination service stores them: PEM and PKCS#12 decoded into the texts
// parseCredentialPems validates; JKS, a wrong password, a corrupt file and hostile sizes each with
// their own code. PKCS#12 files come from openssl (OpenSSL 3 defaults and the legacy algorithms
// Java 8 and older tools write) and from our own writer.
import { spawnSync } from 'node:child_process';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import forge from 'node-forge';
import { afterAll, describe, expect, it } from 'vitest';
import {
  decodeKeystore,
  MAX_KEYSTORE_BYTES,
  MAX_KEYSTORE_ITERATIONS,
  parseCredentialPems,
  pkcs12,
} from '../../../src/pki/index.ts';
import { buildHierarchy, concat, type KeyKind, keyPem, NOW } from './fixtures.ts';

const hierarchies = { rsa: buildHierarchy(), ec: buildHierarchy({ leafKey: 'ec' }) };
const directory = mkdtempSync(join(tmpdir(), 'pki-keystore-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

const fingerprintOf = (kind: KeyKind) => new X509Certificate(hierarchies[kind].leaf.der).fingerprint256;
const chainOf = (kind: KeyKind) => concat(hierarchies[kind].leaf, hierarchies[kind].intermediate);
const keyOf = (kind: KeyKind) => keyPem(hierarchies[kind].leaf.key, 'pkcs8');

let files = 0;
/** A PKCS#12 file written by `openssl pkcs12 -export` with these extra options. */
function opensslP12(kind: KeyKind, password: string, ...options: string[]): Buffer {
  const base = join(directory, `k${++files}`);
  writeFileSync(`${base}.key`, keyOf(kind));
  writeFileSync(`${base}.crt`, chainOf(kind));
  const { status, stderr } = spawnSync(
    'openssl',
    [
      'pkcs12',
      '-export',
      '-inkey',
      `${base}.key`,
      '-in',
      `${base}.crt`,
      '-out',
      `${base}.p12`,
      '-passout',
      `pass:${password}`,
      ...options,
    ],
    { encoding: 'utf8', timeout: 30_000 },
  );
  if (status !== 0) throw new Error(stderr);
  return readFileSync(`${base}.p12`);
}

function validated(content: Uint8Array, password: string | undefined) {
  const decoded = decodeKeystore(content, password);
  if (!decoded.ok) throw new Error(`${decoded.error.code}: ${decoded.error.message}`);
  const bundle = parseCredentialPems({
    certificate: decoded.value.certificate,
    key: decoded.value.key ?? '',
    now: NOW,
  });
  if (!bundle.ok) throw new Error(`${bundle.error.code}: ${bundle.error.message}`);
  return { format: decoded.value.format, bundle: bundle.value };
}

const codeOf = (content: Uint8Array, password?: string) => {
  const decoded = decodeKeystore(content, password);
  return decoded.ok ? 'ok' : decoded.error.code;
};

describe('decodeKeystore', () => {
  it.each(['rsa', 'ec'] as const)('%s: PEM with the chain and the key in one file', (kind) => {
    const { format, bundle } = validated(Buffer.from(keyOf(kind) + chainOf(kind)), undefined);
    expect(format).toBe('PEM');
    expect(bundle.leaf.sha256Fingerprint).toBe(fingerprintOf(kind));
    expect(createPrivateKey(bundle.keyPem).equals(hierarchies[kind].leaf.key.privateKey)).toBe(true);
  });

  it('PEM with only certificates (a signed CSR): no key', () => {
    const decoded = decodeKeystore(Buffer.from(chainOf('rsa')), undefined);
    expect(decoded.ok && decoded.value.key).toBeUndefined();
  });

  it.each([
    ['rsa', 'OpenSSL 3 defaults (PBES2 AES-256, SHA-256 MAC)', []],
    ['ec', 'OpenSSL 3 defaults (PBES2 AES-256, SHA-256 MAC)', []],
    [
      'rsa',
      'legacy 3DES and a SHA-1 MAC (Java 8 keytool)',
      ['-keypbe', 'PBE-SHA1-3DES', '-certpbe', 'PBE-SHA1-3DES', '-macalg', 'sha1'],
    ],
    ['rsa', 'no encryption of the certificates', ['-certpbe', 'NONE']],
  ] as const)('%s: PKCS#12 with a password, %s', (kind, _what, options) => {
    const { format, bundle } = validated(opensslP12(kind, 'changeit', ...options), 'changeit');
    expect(format).toBe('PKCS12');
    expect(bundle.leaf.sha256Fingerprint).toBe(fingerprintOf(kind));
    expect(bundle.chain).toHaveLength(2);
    expect(createPrivateKey(bundle.keyPem).equals(hierarchies[kind].leaf.key.privateKey)).toBe(true);
  });

  it('PKCS#12 with the empty password, given none', () => {
    expect(validated(opensslP12('rsa', ''), undefined).format).toBe('PKCS12');
  });

  it('PKCS#12 with a non-ASCII password (UTF-8 for PBES2, BMPString for the MAC)', () => {
    expect(validated(opensslP12('rsa', 'pässwörd'), 'pässwörd').format).toBe('PKCS12');
  });

  it('PKCS#12 written by our own pkcs12()', () => {
    const bundle = parseCredentialPems({ certificate: chainOf('ec'), key: keyOf('ec'), now: NOW });
    if (!bundle.ok) throw new Error(bundle.error.message);
    const file = pkcs12(bundle.value, 'changeit');
    if (!file.ok) throw new Error(file.error.message);
    expect(validated(file.value, 'changeit').bundle.leaf.sha256Fingerprint).toBe(
      bundle.value.leaf.sha256Fingerprint,
    );
  });

  it.each([
    ['the MAC', []],
    ['a decryption (no MAC)', ['-nomac']],
  ] as const)('a wrong password is KeystorePasswordIncorrect, found by %s', (_what, options) => {
    const decoded = decodeKeystore(opensslP12('rsa', 'changeit', ...options), 'wrong');
    expect(decoded.ok).toBe(false);
    if (decoded.ok) return;
    expect(decoded.error.code).toBe('KeystorePasswordIncorrect');
    expect(decoded.error.message).not.toContain('wrong');
    expect(decoded.error.message).not.toContain('changeit');
  });

  it('a missing password for a protected PKCS#12 is KeystorePasswordIncorrect', () => {
    expect(codeOf(opensslP12('rsa', 'changeit'), undefined)).toBe('KeystorePasswordIncorrect');
  });

  it.each([
    ['JKS', 0xfeedfeed],
    ['JCEKS', 0xcececece],
  ])('%s is UnsupportedKeystoreFormat, with the way out', (name, magic) => {
    const file = Buffer.alloc(64);
    file.writeUInt32BE(magic, 0);
    file.writeUInt32BE(2, 4);
    const decoded = decodeKeystore(file, 'changeit');
    expect(decoded.ok).toBe(false);
    if (decoded.ok) return;
    expect(decoded.error.code).toBe('UnsupportedKeystoreFormat');
    expect(decoded.error.message).toContain(name);
    expect(decoded.error.message).toContain('PKCS#12');
    expect(decoded.error.message).toContain('PEM');
  });

  it('a JKS written by keytool is UnsupportedKeystoreFormat', () => {
    const file = join(directory, 'real.jks');
    const made = spawnSync(
      'keytool',
      [
        '-genkeypair',
        '-keystore',
        file,
        '-storetype',
        'JKS',
        '-storepass',
        'changeit',
        '-keypass',
        'changeit',
        '-alias',
        'a',
        '-dname',
        'CN=a',
        '-keyalg',
        'EC',
      ],
      { encoding: 'utf8', timeout: 60_000 },
    );
    // keytool is optional on a test machine; the magic-number test above covers the logic.
    if (made.error !== undefined) return;
    expect(made.status, made.stderr).toBe(0);
    expect(codeOf(readFileSync(file), 'changeit')).toBe('UnsupportedKeystoreFormat');
  });

  it.each([
    ['a truncated PKCS#12', (p12: Buffer) => p12.subarray(0, p12.length - 40)],
    [
      'a PKCS#12 with a flipped byte in its content',
      (p12: Buffer) => {
        const copy = Buffer.from(p12);
        copy[copy.length - 200] = (copy[copy.length - 200] ?? 0) ^ 0xff;
        return copy;
      },
    ],
    ['random bytes', () => Buffer.from('not a keystore at all')],
    ['a DER sequence that is no PFX', () => Buffer.from([0x30, 0x03, 0x02, 0x01, 0x01])],
    ['nothing', () => Buffer.alloc(0)],
  ] as const)('%s is InvalidKeystore or KeystorePasswordIncorrect, never a throw', (_what, corrupt) => {
    const code = codeOf(corrupt(opensslP12('rsa', 'changeit')), 'changeit');
    expect(['InvalidKeystore', 'KeystorePasswordIncorrect']).toContain(code);
  });

  it('random bytes and a DER sequence that is no PFX are InvalidKeystore', () => {
    expect(codeOf(Buffer.from('not a keystore at all'))).toBe('InvalidKeystore');
    expect(codeOf(Buffer.from([0x30, 0x03, 0x02, 0x01, 0x01]))).toBe('InvalidKeystore');
  });

  it('a file over the cap is InputTooLarge, before it is parsed', () => {
    const big = Buffer.alloc(MAX_KEYSTORE_BYTES + 1, 0x30);
    expect(codeOf(big)).toBe('InputTooLarge');
  });

  it('PEM with more certificates than a chain has is InputTooLarge', () => {
    expect(codeOf(Buffer.from(chainOf('rsa').repeat(6)))).toBe('InputTooLarge');
  });

  it.each([
    ['MAC', ['-iter', String(MAX_KEYSTORE_ITERATIONS + 1)]],
    ['key encryption', ['-iter', String(MAX_KEYSTORE_ITERATIONS + 1), '-nomac']],
  ] as const)('a %s iteration count over the cap is refused before a key is derived', (_what, options) => {
    const decoded = decodeKeystore(opensslP12('rsa', 'changeit', ...options), 'changeit');
    expect(decoded.ok).toBe(false);
    if (decoded.ok) return;
    expect(decoded.error.code).toBe('InvalidKeystore');
    expect(decoded.error.message).toContain('iteration count');
  });

  it('two keys in one PKCS#12 are InvalidKeystore', () => {
    // A key bag holding the same PrivateKeyInfo twice, assembled with forge's DER encoder.
    const der = forge.asn1.fromDer(
      forge.util.createBuffer(
        createPrivateKey(keyOf('rsa')).export({ type: 'pkcs8', format: 'der' }).toString('binary'),
      ),
    );
    const { Class, Type } = forge.asn1;
    const seq = (v: forge.asn1.Asn1[]) => forge.asn1.create(Class.UNIVERSAL, Type.SEQUENCE, true, v);
    const oid = (o: string) =>
      forge.asn1.create(Class.UNIVERSAL, Type.OID, false, forge.asn1.oidToDer(o).getBytes());
    const explicit = (v: forge.asn1.Asn1) => forge.asn1.create(Class.CONTEXT_SPECIFIC, 0, true, [v]);
    const octet = (bytes: string) => forge.asn1.create(Class.UNIVERSAL, Type.OCTETSTRING, false, bytes);
    const bag = seq([oid('1.2.840.113549.1.12.10.1.1'), explicit(der)]);
    const safe = forge.asn1.toDer(seq([bag, bag])).getBytes();
    const data = (bytes: string) => seq([oid('1.2.840.113549.1.7.1'), explicit(octet(bytes))]);
    const pfx = seq([
      forge.asn1.create(Class.UNIVERSAL, Type.INTEGER, false, forge.asn1.integerToDer(3).getBytes()),
      data(forge.asn1.toDer(seq([data(safe)])).getBytes()),
    ]);
    const decoded = decodeKeystore(Buffer.from(forge.asn1.toDer(pfx).getBytes(), 'binary'), undefined);
    expect(decoded.ok ? 'ok' : decoded.error.message).toContain('2 private keys');
  });
});
