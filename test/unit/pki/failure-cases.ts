// Credentials that parseCredentialPems must refuse, with the code and the gist of the message.
// Shared by the behaviour tests and the test that no message leaks key material or PEM text.

import type { PkiErrorCode } from '../../../src/pki/index.ts';
import {
  btpName,
  buildCertificate,
  buildHierarchy,
  concat,
  days,
  encryptedPkcs1Pem,
  encryptedPkcs8Pem,
  foreignRoot,
  keyPem,
  NOW,
  pemOf,
  testKey,
} from './fixtures.ts';

export type FailureCase = {
  readonly name: string;
  readonly certificate: string;
  readonly key: string;
  readonly now: Date;
  readonly code: PkiErrorCode;
  readonly message: RegExp;
  /**
   * What certificateInfo (which reads only the first PEM block) makes of `certificate`: the
   * subject it describes, or the message of its InvalidCertificate failure.
   */
  readonly info: { readonly subject: string } | { readonly failure: RegExp };
};

const LEAF = 'CN=leaf-client, OU=SAP Cloud Platform Clients, O=SAP SE, C=DE';
const INTERMEDIATE = 'CN=Test Client CA, O=SAP SE, L=EU10, C=DE';

export function failureCases(): FailureCase[] {
  const h = buildHierarchy();
  const chain = concat(h.leaf, h.intermediate, h.root);
  const key = keyPem(h.leaf.key, 'pkcs1');
  const base = { certificate: chain, key, now: NOW, info: { subject: LEAF } };

  const pkcs1Body = (text: string) => text.split('\n').slice(1, -2).join('\n');
  const garbleBlock = (pem: string) => pem.replace(/(\n[A-Za-z0-9+/]{20})[A-Za-z0-9+/]{4}/, '$1!@#$');
  const truncatedDer = (der: Buffer) => pemOf(der.subarray(0, der.length - 90));

  // Names the intermediate as its issuer, but is signed by another key.
  const forgedLeaf = buildCertificate({
    subject: btpName('leaf-client'),
    key: h.leaf.key,
    issuer: { name: h.intermediate.name, key: testKey('other') },
    notBefore: days(-1),
    notAfter: days(6),
    ca: false,
  });
  const secondLeaf = buildCertificate({
    subject: btpName('another-client'),
    key: testKey('other'),
    issuer: { name: h.intermediate.name, key: h.intermediate.key },
    notBefore: days(-1),
    notAfter: days(6),
    ca: false,
  });
  const expiredLeaf = buildHierarchy({ leaf: { notBefore: days(-8), notAfter: days(-1) } });
  const futureLeaf = buildHierarchy({ leaf: { notBefore: days(1), notAfter: days(8) } });
  const expiredIntermediate = buildHierarchy({
    intermediate: { notBefore: days(-400), notAfter: days(-2) },
  });
  // A and B issue each other: no certificate is the leaf.
  const [nameA, nameB] = [btpName('cross-a'), btpName('cross-b')];
  const crossA = buildCertificate({
    subject: nameA,
    key: testKey('leaf'),
    issuer: { name: nameB, key: testKey('other') },
    notBefore: days(-1),
    notAfter: days(6),
    ca: true,
  });
  const crossB = buildCertificate({
    subject: nameB,
    key: testKey('other'),
    issuer: { name: nameA, key: testKey('leaf') },
    notBefore: days(-1),
    notAfter: days(6),
    ca: true,
  });
  // The intermediate issued a second time (same name and key, new serial).
  const reissuedIntermediate = buildCertificate({
    subject: h.intermediate.name,
    key: h.intermediate.key,
    issuer: { name: h.root.name, key: h.root.key },
    notBefore: days(-10),
    notAfter: days(1000),
    ca: true,
  });
  // The intermediate's name and key, but an end-entity certificate: no keyCertSign.
  const notACa = buildCertificate({
    subject: h.intermediate.name,
    key: h.intermediate.key,
    issuer: { name: h.root.name, key: h.root.key },
    notBefore: days(-10),
    notAfter: days(1000),
    ca: false,
  });
  const futureRoot = buildHierarchy({ root: { notBefore: days(2), notAfter: days(3650) } });

  return [
    // InvalidCertificate
    {
      ...base,
      name: 'empty certificate',
      certificate: '',
      code: 'InvalidCertificate',
      message: /no PEM block/,
      info: { failure: /^the certificate text holds no PEM block$/ },
    },
    {
      ...base,
      name: 'certificate is not PEM at all',
      certificate: 'this is not a certificate\nat all',
      code: 'InvalidCertificate',
      message: /no PEM block/,
      info: { failure: /^the certificate text holds no PEM block$/ },
    },
    {
      ...base,
      name: 'leaf truncated in the middle of its base64',
      certificate: h.leaf.pem.slice(0, 400) + concat(h.intermediate, h.root),
      code: 'InvalidCertificate',
      message: /^certificate block 1 of 3 has no END line \(truncated\?\)$/,
      info: { failure: /^the first PEM block has no END line \(truncated\?\)$/ },
    },
    {
      ...base,
      name: 'root cut off at the end',
      certificate: concat(h.leaf, h.intermediate) + h.root.pem.slice(0, 300),
      code: 'InvalidCertificate',
      message: /^certificate block 3 of 3 has no END line/,
    },
    {
      ...base,
      name: 'garbled base64 in block 2',
      certificate: h.leaf.pem + garbleBlock(h.intermediate.pem) + h.root.pem,
      code: 'InvalidCertificate',
      message: /^certificate block 2 of 3 is not valid base64/,
    },
    {
      ...base,
      name: 'block 2 is base64 of a truncated DER certificate',
      certificate: h.leaf.pem + truncatedDer(h.intermediate.der) + h.root.pem,
      code: 'InvalidCertificate',
      message: /^certificate block 2 of 3 does not parse as an X\.509 certificate/,
    },
    {
      ...base,
      name: 'the private key inside the certificate text',
      certificate: h.leaf.pem + key,
      code: 'InvalidCertificate',
      message: /^certificate block 2 of 2 is a PKCS#1 RSA private key, not a certificate/,
    },
    {
      ...base,
      name: 'a block with an unknown label',
      certificate: h.leaf.pem + pemOf(Buffer.from('whatever'), 'SOMETHING ELSE'),
      code: 'InvalidCertificate',
      message: /^certificate block 2 of 2 is a PEM block of an unrecognised type/,
    },
    {
      ...base,
      name: 'more certificates than any chain has',
      certificate: concat(...Array.from({ length: 11 }, () => h.leaf)),
      code: 'InputTooLarge',
      message: /^the certificate text holds 11 PEM blocks; a chain of at most 10 certificates is accepted$/,
    },

    // InvalidKey
    { ...base, name: 'empty key', key: '', code: 'InvalidKey', message: /^the key text holds no PEM block/ },
    { ...base, name: 'key is garbage', key: 'garbage\n', code: 'InvalidKey', message: /no PEM block/ },
    {
      ...base,
      name: 'encrypted PKCS#8 key',
      key: encryptedPkcs8Pem(h.leaf.key),
      code: 'InvalidKey',
      message: /encrypted with a passphrase/,
    },
    {
      ...base,
      name: 'encrypted PKCS#1 key (Proc-Type header)',
      key: encryptedPkcs1Pem(h.leaf.key),
      code: 'InvalidKey',
      message: /encrypted with a passphrase/,
    },
    {
      ...base,
      name: 'two keys',
      key: key + keyPem(testKey('other'), 'pkcs8'),
      code: 'InvalidKey',
      message: /holds 2 PEM blocks \(a PKCS#1 RSA private key, a PKCS#8 private key\)/,
    },
    {
      ...base,
      name: 'a whole chain in the key field',
      key: key + chain,
      code: 'InvalidKey',
      message: /holds 4 PEM blocks \(a PKCS#1 RSA private key, a certificate, a certificate, and 1 more\)/,
    },
    {
      ...base,
      name: 'a certificate in the key field',
      key: h.leaf.pem,
      code: 'InvalidKey',
      message: /^the key text holds a certificate;/,
    },
    {
      ...base,
      name: 'key truncated',
      key: key.slice(0, 200),
      code: 'InvalidKey',
      message: /cut short/,
    },
    {
      ...base,
      name: 'key with garbled base64',
      key: garbleBlock(key),
      code: 'InvalidKey',
      message: /not valid base64/,
    },
    {
      ...base,
      name: 'PKCS#8 body under a PKCS#1 label',
      key: keyPem(h.leaf.key, 'pkcs8').replaceAll('PRIVATE KEY', 'RSA PRIVATE KEY'),
      code: 'InvalidKey',
      message: /labelled as a PKCS#1 RSA key but holds a PKCS#8 structure/,
    },
    {
      ...base,
      name: 'key base64 of a truncated DER key',
      key: pemOf(
        Buffer.from(pkcs1Body(key).replaceAll('\n', ''), 'base64').subarray(0, 600),
        'RSA PRIVATE KEY',
      ),
      code: 'InvalidKey',
      message: /holds no private key structure/,
    },

    // BrokenChain
    {
      ...base,
      name: 'intermediate missing (leaf and root only)',
      certificate: concat(h.leaf, h.root),
      code: 'BrokenChain',
      message: new RegExp(
        `^the certificates form 2 separate chains.*\\['${LEAF}'\\] \\(issued by '${INTERMEDIATE}', not in the set\\)`,
      ),
    },
    {
      ...base,
      name: 'a foreign root mixed in',
      certificate: concat(h.leaf, foreignRoot(), h.intermediate, h.root),
      code: 'BrokenChain',
      message: /2 separate chains.*\['CN=Foreign Root CA, O=Elsewhere Inc, C=US'\]$/,
    },
    {
      ...base,
      name: 'two leaves of the same intermediate',
      certificate: concat(h.leaf, secondLeaf, h.intermediate),
      code: 'BrokenChain',
      message: /2 separate chains/,
    },
    {
      ...base,
      name: 'leaf names the intermediate but another key signed it',
      certificate: concat(forgedLeaf, h.intermediate, h.root),
      code: 'BrokenChain',
      message: new RegExp(`^certificate '${LEAF}' is not signed by '${INTERMEDIATE}'`),
    },
    {
      ...base,
      name: 'two certificates that issue each other',
      certificate: concat(crossA, crossB),
      code: 'BrokenChain',
      message: /issue one another in a circle/,
      info: { subject: 'CN=cross-a, OU=SAP Cloud Platform Clients, O=SAP SE, C=DE' },
    },
    {
      ...base,
      name: 'a second issue of the intermediate besides the one in the chain',
      certificate: concat(h.leaf, h.intermediate, reissuedIntermediate, h.root),
      code: 'BrokenChain',
      message: new RegExp(
        `^certificate '${INTERMEDIATE}' \\(block 3\\) is not part of the chain of the leaf '${LEAF}'$`,
      ),
    },
    {
      ...base,
      name: 'the issuer of the leaf may not sign certificates',
      certificate: concat(h.leaf, notACa, h.root),
      code: 'BrokenChain',
      message: new RegExp(
        `\\['${LEAF}'\\] \\(issued by '${INTERMEDIATE}'; the certificate of that name in block 2 is not its issuer\\)`,
      ),
    },

    // KeyMismatch
    {
      ...base,
      name: 'key of another RSA certificate',
      key: keyPem(testKey('other'), 'pkcs1'),
      code: 'KeyMismatch',
      message: new RegExp(
        `^the private key does not match the leaf certificate '${LEAF}': the key's public half`,
      ),
    },
    {
      ...base,
      name: 'EC key for an RSA leaf',
      key: keyPem(testKey('leaf', 'ec'), 'pkcs8'),
      code: 'KeyMismatch',
      message: /the key is ec, the certificate's public key is rsa$/,
    },

    // Validity
    {
      ...base,
      name: 'leaf expired',
      certificate: concat(expiredLeaf.leaf, expiredLeaf.intermediate),
      code: 'Expired',
      message: new RegExp(`^leaf certificate '${LEAF}' expired at 2026-05-31T12:00:00Z$`),
    },
    {
      ...base,
      name: 'leaf one millisecond after notAfter',
      now: new Date(h.leaf.notAfter.getTime() + 1),
      code: 'Expired',
      message: /^leaf certificate .* expired at 2026-06-07T12:00:00Z$/,
    },
    {
      ...base,
      name: 'leaf not yet valid',
      certificate: concat(futureLeaf.leaf, futureLeaf.intermediate, futureLeaf.root),
      code: 'NotYetValid',
      message: /^leaf certificate .* is not valid before 2026-06-02T12:00:00Z/,
    },
    {
      ...base,
      name: 'leaf one millisecond before notBefore',
      now: new Date(h.leaf.notBefore.getTime() - 1),
      code: 'NotYetValid',
      message: /^leaf certificate/,
    },
    {
      ...base,
      name: 'intermediate expired, leaf fine',
      certificate: concat(expiredIntermediate.leaf, expiredIntermediate.intermediate),
      code: 'Expired',
      message: new RegExp(`^intermediate certificate '${INTERMEDIATE}' expired at 2026-05-30T12:00:00Z`),
    },
    {
      ...base,
      name: 'root not yet valid',
      certificate: concat(futureRoot.leaf, futureRoot.intermediate, futureRoot.root),
      code: 'NotYetValid',
      message: /^root certificate 'CN=Test Root CA, O=SAP SE, C=DE' is not valid before/,
    },
  ];
}
