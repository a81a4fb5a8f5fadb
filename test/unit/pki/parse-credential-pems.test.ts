import { describe, expect, it } from 'vitest';
import { parseCredentialPems, type ValidatedBundle } from '../../../src/pki/index.ts';
import { failureCases } from './failure-cases.ts';
import {
  buildHierarchy,
  concat,
  type KeyEncoding,
  type KeyKind,
  keyPem,
  NOW,
  type TestCertificate,
  testKey,
} from './fixtures.ts';

const rsa = buildHierarchy();
const ec = buildHierarchy({ leafKey: 'ec' });

function mustParse(certificate: string, key: string, now: Date = NOW): ValidatedBundle {
  const result = parseCredentialPems({ certificate, key, now });
  if (!result.ok) throw new Error(`expected success, got ${result.error.code}: ${result.error.message}`);
  return result.value;
}

describe('parseCredentialPems: valid credentials', () => {
  type Case = {
    name: string;
    kind: KeyKind;
    encoding: KeyEncoding;
    delivered: (h: typeof rsa) => TestCertificate[];
    /** The chain the bundle must describe, leaf first. */
    expected: (h: typeof rsa) => TestCertificate[];
  };
  const fullChain = (h: typeof rsa) => [h.leaf, h.intermediate, h.root];
  const withoutRoot = (h: typeof rsa) => [h.leaf, h.intermediate];
  const cases: Case[] = [
    {
      name: 'XSUAA shape: RSA PKCS#1, leaf first',
      kind: 'rsa',
      encoding: 'pkcs1',
      delivered: fullChain,
      expected: fullChain,
    },
    {
      name: 'the same chain root first',
      kind: 'rsa',
      encoding: 'pkcs1',
      delivered: (h) => [h.root, h.intermediate, h.leaf],
      expected: fullChain,
    },
    {
      name: 'the same chain shuffled',
      kind: 'rsa',
      encoding: 'pkcs1',
      delivered: (h) => [h.intermediate, h.root, h.leaf],
      expected: fullChain,
    },
    {
      name: 'without the root',
      kind: 'rsa',
      encoding: 'pkcs1',
      delivered: withoutRoot,
      expected: withoutRoot,
    },
    {
      name: 'without the root, intermediate first',
      kind: 'rsa',
      encoding: 'pkcs1',
      delivered: (h) => [h.intermediate, h.leaf],
      expected: withoutRoot,
    },
    {
      name: 'the leaf alone',
      kind: 'rsa',
      encoding: 'pkcs1',
      delivered: (h) => [h.leaf],
      expected: (h) => [h.leaf],
    },
    { name: 'RSA key in PKCS#8', kind: 'rsa', encoding: 'pkcs8', delivered: fullChain, expected: fullChain },
    {
      name: 'IAS shape: EC leaf, PKCS#8 key',
      kind: 'ec',
      encoding: 'pkcs8',
      delivered: fullChain,
      expected: fullChain,
    },
    {
      name: 'EC leaf, SEC1 key, shuffled',
      kind: 'ec',
      encoding: 'sec1',
      delivered: (h) => [h.root, h.leaf, h.intermediate],
      expected: fullChain,
    },
    {
      name: 'the intermediate delivered twice',
      kind: 'rsa',
      encoding: 'pkcs1',
      delivered: (h) => [h.leaf, h.intermediate, h.intermediate, h.root],
      expected: fullChain,
    },
  ];

  it.each(cases)('$name', ({ kind, encoding, delivered, expected }) => {
    const h = kind === 'rsa' ? rsa : ec;
    const key = keyPem(h.leaf.key, encoding);
    const bundle = mustParse(concat(...delivered(h)), key);
    const chain = expected(h);
    const [leaf, ...above] = chain;

    expect(bundle.chain.map(({ subject }) => subject)).toEqual(chain.map(({ subject }) => subject));
    expect(bundle.leaf).toEqual(bundle.chain[0]);
    expect(bundle.leaf.subject).toBe(leaf?.subject);
    expect(bundle.chainPem).toBe(concat(...chain.filter((each) => each !== h.root)));
    expect(bundle.caPem).toBe(concat(...above));
    expect(bundle.keyPem).toBe(key);
    expect(bundle.keyType).toBe(kind);
    expect(bundle.keyFormat).toBe(encoding);
  });

  it('normalizes CRLF, indentation, text between blocks and a missing trailing newline', () => {
    const key = keyPem(rsa.leaf.key, 'pkcs1');
    const delivered = [
      'Bag Attributes',
      ...concat(rsa.leaf, rsa.intermediate, rsa.root)
        .split('-----END CERTIFICATE-----\n')
        .map((block) => (block === '' ? '' : `${block}-----END CERTIFICATE-----   \nsubject=whatever\n`)),
    ]
      .join('\n')
      .trimEnd()
      .replaceAll('\n', '\r\n');
    const bundle = mustParse(delivered, `\r\n  ${key.trimEnd().replaceAll('\n', '\r\n  ')}`);
    expect(bundle.chainPem).toBe(concat(rsa.leaf, rsa.intermediate));
    expect(bundle.caPem).toBe(concat(rsa.intermediate, rsa.root));
    expect(bundle.keyPem).toBe(key);
  });

  it('accepts blocks run together on one line', () => {
    const delivered = [rsa.leaf, rsa.intermediate].map(({ pem }) => pem.trimEnd()).join('');
    expect(mustParse(delivered, keyPem(rsa.leaf.key, 'pkcs1')).chainPem).toBe(
      concat(rsa.leaf, rsa.intermediate),
    );
  });

  it('drops an EC PARAMETERS block in front of a SEC1 key', () => {
    const key = keyPem(ec.leaf.key, 'sec1');
    const parameters = '-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n';
    expect(mustParse(concat(ec.leaf), parameters + key).keyPem).toBe(key);
  });

  it('is valid from notBefore through notAfter, both instants included', () => {
    const certificate = concat(rsa.leaf, rsa.intermediate);
    const key = keyPem(rsa.leaf.key, 'pkcs1');
    expect(mustParse(certificate, key, rsa.leaf.notBefore).leaf.notBefore).toEqual(rsa.leaf.notBefore);
    expect(mustParse(certificate, key, rsa.leaf.notAfter).leaf.notAfter).toEqual(rsa.leaf.notAfter);
  });

  it('describes every certificate of the chain', () => {
    const bundle = mustParse(concat(rsa.leaf, rsa.intermediate, rsa.root), keyPem(rsa.leaf.key, 'pkcs1'));
    expect(bundle.chain.map(({ selfSigned }) => selfSigned)).toEqual([false, false, true]);
    expect(bundle.chain.map(({ issuer }) => issuer)).toEqual([
      rsa.intermediate.subject,
      rsa.root.subject,
      rsa.root.subject,
    ]);
    expect(bundle.leaf).toMatchObject({ notBefore: rsa.leaf.notBefore, notAfter: rsa.leaf.notAfter });
  });

  it('treats a self-signed leaf as a chain of one with no CA', () => {
    const selfSigned = rsa.root;
    const bundle = mustParse(selfSigned.pem, keyPem(testKey('root'), 'pkcs8'));
    expect(bundle.leaf.selfSigned).toBe(true);
    expect(bundle.chainPem).toBe(selfSigned.pem);
    expect(bundle.caPem).toBe('');
  });
});

describe('parseCredentialPems: refused credentials', () => {
  it.each(failureCases())('$code: $name', ({ certificate, key, now, code, message }) => {
    const result = parseCredentialPems({ certificate, key, now });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.error.code).toBe(code);
    expect(result.error.message).toMatch(message);
  });

  it('checks the certificate before the key, and the key match before validity', () => {
    const expired = buildHierarchy({ leaf: { notBefore: new Date(0), notAfter: new Date(1000) } });
    const foreignKey = keyPem(testKey('other'), 'pkcs1');
    const codeOf = (certificate: string, key: string) => {
      const result = parseCredentialPems({ certificate, key, now: NOW });
      return result.ok ? 'ok' : result.error.code;
    };
    expect(codeOf('garbage', 'garbage')).toBe('InvalidCertificate');
    expect(codeOf(concat(rsa.leaf, rsa.root), 'garbage')).toBe('InvalidKey');
    expect(codeOf(concat(rsa.leaf, rsa.root), foreignKey)).toBe('BrokenChain');
    expect(codeOf(concat(expired.leaf), foreignKey)).toBe('KeyMismatch');
  });

  it('throws on a clock that is not a valid Date: a programming error, not bad credentials', () => {
    const input = { certificate: rsa.leaf.pem, key: keyPem(rsa.leaf.key, 'pkcs1') };
    expect(() => parseCredentialPems({ ...input, now: new Date(Number.NaN) })).toThrow(TypeError);
  });

  it('refuses input that is not text instead of throwing', () => {
    const notText = 42 as unknown as string;
    const key = keyPem(rsa.leaf.key, 'pkcs1');
    expect(parseCredentialPems({ certificate: notText, key, now: NOW })).toMatchObject({
      ok: false,
      error: { code: 'InvalidCertificate' },
    });
    expect(parseCredentialPems({ certificate: rsa.leaf.pem, key: notText, now: NOW })).toMatchObject({
      ok: false,
      error: { code: 'InvalidKey' },
    });
  });
});
