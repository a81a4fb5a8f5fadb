import { spawnSync } from 'node:child_process';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { combinedPem, parseCredentialPems, pkcs12, type ValidatedBundle } from '../../../src/pki/index.ts';
import { buildHierarchy, concat, type KeyKind, keyPem, NOW } from './fixtures.ts';

const hierarchies = { rsa: buildHierarchy(), ec: buildHierarchy({ leafKey: 'ec' }) };

function bundleOf(kind: KeyKind): ValidatedBundle {
  const h = hierarchies[kind];
  const result = parseCredentialPems({
    certificate: concat(h.leaf, h.intermediate, h.root),
    key: keyPem(h.leaf.key, kind === 'rsa' ? 'pkcs1' : 'pkcs8'),
    now: NOW,
  });
  if (!result.ok) throw new Error(result.error.message);
  return result.value;
}

const directory = mkdtempSync(join(tmpdir(), 'pki-formats-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

let written = 0;
function keystoreFile(bundle: ValidatedBundle, password: string, friendlyName?: string): string {
  const result = pkcs12(bundle, password, friendlyName === undefined ? {} : { friendlyName });
  if (!result.ok) throw new Error(result.error.message);
  const file = join(directory, `keystore-${++written}.p12`);
  writeFileSync(file, result.value);
  return file;
}

function run(command: string, args: readonly string[]) {
  const { status, stdout, stderr, error } = spawnSync(command, args, { encoding: 'utf8', timeout: 30_000 });
  if (error !== undefined) throw error;
  return { status, stdout, stderr, output: stdout + stderr };
}

function openssl(file: string, password: string, ...args: string[]) {
  return run('openssl', ['pkcs12', '-in', file, '-passin', `pass:${password}`, ...args]);
}

function pemBlocks(text: string, label: string): string[] {
  return text.match(new RegExp(`-----BEGIN ${label}-----[^-]+-----END ${label}-----\\n`, 'g')) ?? [];
}

describe('combinedPem', () => {
  it('is the key, then the leaf, then the intermediates: no root', () => {
    const bundle = bundleOf('rsa');
    const h = hierarchies.rsa;
    const combined = combinedPem(bundle);
    expect(combined).toBe(keyPem(h.leaf.key, 'pkcs1') + concat(h.leaf, h.intermediate));
    expect([...combined.matchAll(/-----BEGIN ([A-Z ]+)-----/g)].map(([, label]) => label)).toEqual([
      'RSA PRIVATE KEY',
      'CERTIFICATE',
      'CERTIFICATE',
    ]);
  });
});

describe('pkcs12', () => {
  it.each(['rsa', 'ec'] as const)(
    '%s: openssl reads it with the password: AES-256 key, SHA-256 MAC',
    (kind) => {
      const bundle = bundleOf(kind);
      const file = keystoreFile(bundle, 'changeit');

      const info = openssl(file, 'changeit', '-info', '-noout');
      expect(info.status, info.output).toBe(0);
      expect(info.output).toContain('MAC: sha256');
      expect(info.output).toMatch(/Shrouded Keybag: PBES2, PBKDF2, AES-256-CBC, .*PRF hmacWithSHA256/);

      const contents = openssl(file, 'changeit', '-nodes');
      expect(contents.status, contents.output).toBe(0);
      const [key, ...others] = pemBlocks(contents.stdout, 'PRIVATE KEY');
      expect(others).toEqual([]);
      expect(createPrivateKey(key ?? '').equals(createPrivateKey(bundle.keyPem))).toBe(true);
      const certificates = pemBlocks(contents.stdout, 'CERTIFICATE').map((pem) => new X509Certificate(pem));
      expect(certificates.map(({ fingerprint256 }) => fingerprint256).sort()).toEqual(
        bundle.chain
          .filter(({ selfSigned }) => !selfSigned)
          .map(({ sha256Fingerprint }) => sha256Fingerprint)
          .sort(),
      );
      expect(contents.stdout).toContain('friendlyName: certificate');
    },
  );

  it.each([
    ['a wrong password', 'wrong'],
    ['no password', ''],
  ])('openssl refuses it with %s', (_, password) => {
    const file = keystoreFile(bundleOf('rsa'), 'changeit');
    const result = openssl(file, password, '-info', '-noout');
    expect(result.status).not.toBe(0);
    expect(result.output).toMatch(/mac verify/i);
  });

  it('writes the friendly name it is given', () => {
    const file = keystoreFile(bundleOf('rsa'), 'changeit', 'my-client');
    expect(openssl(file, 'changeit', '-nodes').stdout).toContain('friendlyName: my-client');
  });

  it('accepts an empty password', () => {
    const file = keystoreFile(bundleOf('ec'), '');
    expect(openssl(file, '', '-info', '-noout').status).toBe(0);
  });

  it('refuses a password outside ASCII with UnsupportedPassword, without echoing it', () => {
    const password = 'pässwört';
    const result = pkcs12(bundleOf('rsa'), password);
    expect(result).toMatchObject({ ok: false, error: { code: 'UnsupportedPassword' } });
    if (!result.ok) {
      expect(result.error.message).toMatch(/outside ASCII/);
      expect(result.error.message).not.toContain(password);
    }
  });

  const keytool = spawnSync('keytool', ['-help'], { encoding: 'utf8' }).error === undefined;
  // One JVM start (about a second) for the harder case, an EC key; RSA goes through the same code.
  it.skipIf(!keytool)('Java keytool opens the EC keystore as one private key entry with its chain', () => {
    const file = keystoreFile(bundleOf('ec'), 'changeit');
    const list = run('keytool', [
      '-J-Duser.language=en',
      '-list',
      '-v',
      '-storetype',
      'PKCS12',
      '-keystore',
      file,
      '-storepass',
      'changeit',
    ]);
    expect(list.status, list.output).toBe(0);
    expect(list.stdout).toContain('Alias name: certificate');
    expect(list.stdout).toContain('Entry type: PrivateKeyEntry');
    expect(list.stdout).toContain('Certificate chain length: 2');
  });
});
