// The key text of a credential: exactly one unencrypted private key in PEM, PKCS#1 (XSUAA),
// PKCS#8 (IAS, EC) or SEC1. The key is handed on as delivered, never re-encoded: only its line
// endings and surrounding text are normalized.

import { createPrivateKey, createPublicKey, type KeyObject, type X509Certificate } from 'node:crypto';
import forge from 'node-forge';
import { fail, ok, PkiErrorCode, type PkiResult } from './errors.ts';
import { oversizedText } from './limits.ts';
import { blockText, describeLabel, type PemBlock, scanPem } from './pem.ts';

export type KeyFormat = 'pkcs1' | 'pkcs8' | 'sec1';

/** The key types that can sign a TLS handshake; node:crypto's asymmetricKeyType names. */
export const KEY_TYPES = ['rsa', 'rsa-pss', 'ec', 'ed25519', 'ed448'] as const;
export type KeyType = (typeof KEY_TYPES)[number];

export type ParsedKey = {
  readonly keyObject: KeyObject;
  /** The key block as delivered: LF line endings, no text around it, one trailing newline. */
  readonly keyPem: string;
  readonly keyType: KeyType;
  readonly keyFormat: KeyFormat;
};

const FORMAT_BY_LABEL: Readonly<Record<string, KeyFormat>> = {
  'RSA PRIVATE KEY': 'pkcs1',
  'PRIVATE KEY': 'pkcs8',
  'EC PRIVATE KEY': 'sec1',
};

const FORMAT_NAMES: Readonly<Record<KeyFormat, string>> = {
  pkcs1: 'PKCS#1 RSA',
  pkcs8: 'PKCS#8',
  sec1: 'SEC1 EC',
};

const EXPECTED = 'expected one unencrypted private key in PEM (PKCS#1, PKCS#8 or SEC1)';

export function parsePrivateKey(text: string): PkiResult<ParsedKey> {
  if (typeof text !== 'string') return fail(PkiErrorCode.InvalidKey, 'the key is not text');
  const oversized = oversizedText(text, 'key');
  if (oversized !== null) return { ok: false, error: oversized };
  // `openssl ecparam -genkey` writes an EC PARAMETERS block before the key; it says nothing the
  // key does not, so it is dropped rather than refused.
  const items = scanPem(text).filter((item) => !(item.kind === 'block' && item.label === 'EC PARAMETERS'));
  const [item] = items;
  if (item === undefined) {
    return fail(PkiErrorCode.InvalidKey, `the key text holds no PEM block; ${EXPECTED}`);
  }
  if (items.length > 1) {
    const described = items.slice(0, 3).map((each) => describeLabel(each.label));
    const held = described.join(', ') + (items.length > 3 ? `, and ${items.length - 3} more` : '');
    return fail(
      PkiErrorCode.InvalidKey,
      `the key text holds ${items.length} PEM blocks (${held}); ${EXPECTED}`,
    );
  }
  if (item.kind !== 'block') {
    return fail(
      PkiErrorCode.InvalidKey,
      'the key block is cut short: its BEGIN and END lines do not pair up',
    );
  }
  if (item.label === 'ENCRYPTED PRIVATE KEY' || isLegacyEncrypted(item)) {
    return fail(
      PkiErrorCode.InvalidKey,
      'the private key is encrypted with a passphrase; the operator needs the unencrypted key',
    );
  }
  const format = Object.hasOwn(FORMAT_BY_LABEL, item.label) ? FORMAT_BY_LABEL[item.label] : undefined;
  if (format === undefined) {
    return fail(PkiErrorCode.InvalidKey, `the key text holds ${describeLabel(item.label)}; ${EXPECTED}`);
  }
  if (item.headers.length > 0) {
    return fail(
      PkiErrorCode.InvalidKey,
      'the key block has RFC 1421 header lines, which an unencrypted key never has',
    );
  }
  if (item.der === null) {
    return fail(PkiErrorCode.InvalidKey, 'the key block is not valid base64 (garbled or truncated)');
  }
  const structure = keyStructure(item.der);
  if (structure !== format) {
    const held = structure === null ? 'no private key structure' : `a ${FORMAT_NAMES[structure]} structure`;
    return fail(
      PkiErrorCode.InvalidKey,
      `the key block is labelled as a ${FORMAT_NAMES[format]} key but holds ${held} (garbled, truncated or mislabelled)`,
    );
  }
  const keyPem = blockText(item);
  let keyObject: KeyObject;
  try {
    keyObject = createPrivateKey({ key: keyPem, format: 'pem' });
  } catch {
    return fail(PkiErrorCode.InvalidKey, `the key does not parse as a ${FORMAT_NAMES[format]} private key`);
  }
  const keyType = keyObject.asymmetricKeyType;
  if (!isKeyType(keyType)) {
    return fail(
      PkiErrorCode.InvalidKey,
      `the key is of type ${keyType ?? 'unknown'}, which cannot be used; supported: ${KEY_TYPES.join(', ')}`,
    );
  }
  return ok({ keyObject, keyPem, keyType, keyFormat: format });
}

/** Traditional OpenSSL encryption: "Proc-Type: 4,ENCRYPTED" and "DEK-Info" headers in the block. */
function isLegacyEncrypted(block: PemBlock): boolean {
  return block.headers.some((header) => /^(Proc-Type:.*ENCRYPTED|DEK-Info:)/i.test(header));
}

function isKeyType(value: string | undefined): value is KeyType {
  return KEY_TYPES.some((type) => type === value);
}

/**
 * Which structure a DER private key has, told apart by the element after the leading version
 * INTEGER: PKCS#1 RSAPrivateKey continues with the modulus (INTEGER), PKCS#8 PrivateKeyInfo with
 * an AlgorithmIdentifier (SEQUENCE), SEC1 ECPrivateKey with the private value (OCTET STRING).
 * OpenSSL accepts a PKCS#8 body under an RSA PRIVATE KEY label; consumers that go by the label do
 * not, so the label has to be checked against the body.
 */
function keyStructure(der: Buffer): KeyFormat | null {
  let outer: forge.asn1.Asn1;
  try {
    outer = forge.asn1.fromDer(forge.util.createBuffer(der.toString('binary')));
  } catch {
    return null;
  }
  if (outer.type !== forge.asn1.Type.SEQUENCE || !Array.isArray(outer.value)) return null;
  const [version, second] = outer.value;
  if (version?.type !== forge.asn1.Type.INTEGER || second === undefined) return null;
  switch (second.type) {
    case forge.asn1.Type.INTEGER:
      return 'pkcs1';
    case forge.asn1.Type.SEQUENCE:
      return 'pkcs8';
    case forge.asn1.Type.OCTETSTRING:
      return 'sec1';
    default:
      return null;
  }
}

/**
 * Whether the private key belongs to the certificate: its public half equals the certificate's
 * public key. KeyObject.equals compares the keys (EVP_PKEY_eq), not their encodings, so a
 * compressed EC point in the certificate still matches.
 */
export function publicKeyMatches(privateKey: KeyObject, cert: X509Certificate): boolean {
  const certificateKey = cert.publicKey;
  if (privateKey.asymmetricKeyType !== certificateKey.asymmetricKeyType) return false;
  return createPublicKey(privateKey).equals(certificateKey);
}
