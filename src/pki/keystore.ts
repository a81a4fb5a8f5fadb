// A keystore file as the SAP Destination service stores it (btp.md §6): PEM (certificates and the
// key in one file) or PKCS#12/PFX with a password, decoded into the certificate and key texts that
// parseCredentialPems validates. JKS and JCEKS are recognised by their magic number and refused.
//
// The file comes from a tenant: it is measured before it is parsed, and every PKCS#12 key
// derivation is held to MAX_KEYSTORE_ITERATIONS before it runs (a count of 2^31 would hold a worker
// for an hour). The PFX is therefore walked here, level by level (RFC 7292: PFX, MacData,
// AuthenticatedSafe, SafeContents, SafeBag), not handed to forge's pkcs12FromAsn1, which derives
// keys with whatever count a file names and reports a wrong password only in its message text.
// node-forge supplies the DER decoder, the PKCS#12 KDF and the PBE ciphers; keys are re-encoded by
// node:crypto, so EC keys work as well as RSA.

import { createHmac, createPrivateKey, timingSafeEqual } from 'node:crypto';
import forge from 'node-forge';
import { formatBytes } from '../runtime/text.ts';
import type { Result } from './errors.ts';
import { MAX_CERTIFICATES } from './limits.ts';
import { encodePem, scanPem } from './pem.ts';

export const KeystoreErrorCode = {
  /** The file is larger, or holds more certificates, than any keystore of one credential does. */
  InputTooLarge: 'InputTooLarge',
  /** JKS or JCEKS: a Java keystore format the operator does not read. */
  UnsupportedKeystoreFormat: 'UnsupportedKeystoreFormat',
  /** The PKCS#12 password does not open the file (its MAC or a decryption fails). */
  KeystorePasswordIncorrect: 'KeystorePasswordIncorrect',
  /** Neither PEM nor a PKCS#12 file that parses, or without exactly one private key. */
  InvalidKeystore: 'InvalidKeystore',
} as const;

export type KeystoreErrorCode = (typeof KeystoreErrorCode)[keyof typeof KeystoreErrorCode];
export type KeystoreError = { readonly code: KeystoreErrorCode; readonly message: string };

export type DecodedKeystore = {
  readonly format: 'PEM' | 'PKCS12';
  /** The certificates, PEM, in the order of the file. */
  readonly certificate: string;
  /** The private key, PEM; undefined when the file holds none (a signed CSR comes back as a chain). */
  readonly key: string | undefined;
};

/** A keystore file larger than this is refused before it is parsed (one key and a chain: a few KiB). */
export const MAX_KEYSTORE_BYTES = 64 * 1024;
/**
 * The highest iteration count of a PKCS#12 MAC or PBE the operator derives a key with. OpenSSL
 * writes 2048, Java 10000; a count beyond this is refused as InvalidKeystore before any work. The
 * PKCS#12 KDF runs in JavaScript (forge): measured on one core, 2048 iterations take 30 ms, 10000
 * 90 ms, 100000 860 ms; the cap holds a hostile file to about 0.2 s.
 */
export const MAX_KEYSTORE_ITERATIONS = 20_000;

const JAVA_MAGIC: ReadonlyMap<number, string> = new Map([
  [0xfeedfeed, 'JKS'],
  [0xcececece, 'JCEKS'],
]);

const OID = {
  data: '1.2.840.113549.1.7.1',
  encryptedData: '1.2.840.113549.1.7.6',
  keyBag: '1.2.840.113549.1.12.10.1.1',
  pkcs8ShroudedKeyBag: '1.2.840.113549.1.12.10.1.2',
  certBag: '1.2.840.113549.1.12.10.1.3',
  x509Certificate: '1.2.840.113549.1.9.22.1',
  pbes2: '1.2.840.113549.1.5.13',
} as const;

const MAC_DIGESTS: Readonly<Record<string, { name: string; bytes: number }>> = {
  '1.3.14.3.2.26': { name: 'sha1', bytes: 20 },
  '2.16.840.1.101.3.4.2.1': { name: 'sha256', bytes: 32 },
  '2.16.840.1.101.3.4.2.2': { name: 'sha384', bytes: 48 },
  '2.16.840.1.101.3.4.2.3': { name: 'sha512', bytes: 64 },
};

const STORE_AS = 'store it in the Destination service as PKCS#12 (.p12/.pfx) or PEM';

type Asn1 = forge.asn1.Asn1;
const { Class, Type } = forge.asn1;

/** forge's PBE ciphers (pbes2 and the PKCS#12 PBEs), which its type declarations leave out. */
type PbeCipher = {
  update(input: forge.util.ByteStringBuffer): void;
  finish(): boolean;
  readonly output: forge.util.ByteStringBuffer;
};
const pbe = (
  forge.pki as unknown as { pbe: { getCipher(oid: string, params: Asn1, password: string): PbeCipher } }
).pbe;

/** forge's DER decoder options, also missing from its declarations. */
type FromDerOptions = { strict: boolean; parseAllBytes: boolean; decodeBitStrings: boolean };
const fromDerWith = forge.asn1.fromDer as unknown as (
  bytes: forge.util.ByteStringBuffer,
  options: FromDerOptions,
) => Asn1;

/** A failure found while walking the PFX: thrown inside this module only, returned as a value. */
class KeystoreFailure extends Error {
  readonly code: KeystoreErrorCode;
  constructor(code: KeystoreErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}

const invalid = (message: string) => new KeystoreFailure(KeystoreErrorCode.InvalidKeystore, message);

/**
 * The certificates and key of a keystore file. `password` opens a PKCS#12 file (undefined: the
 * empty password); a PEM file needs none. Never throws for any input; messages never carry bytes
 * of the file or the password.
 */
export function decodeKeystore(
  content: Uint8Array,
  password: string | undefined,
): Result<DecodedKeystore, KeystoreError> {
  if (content.byteLength > MAX_KEYSTORE_BYTES) {
    return failure(
      KeystoreErrorCode.InputTooLarge,
      `the keystore is ${content.byteLength} bytes; at most ${formatBytes(MAX_KEYSTORE_BYTES)} are accepted`,
    );
  }
  const bytes = Buffer.from(content.buffer, content.byteOffset, content.byteLength);
  const java = bytes.length >= 4 ? JAVA_MAGIC.get(bytes.readUInt32BE(0)) : undefined;
  if (java !== undefined) {
    return failure(
      KeystoreErrorCode.UnsupportedKeystoreFormat,
      `the keystore is a Java ${java} keystore, which the operator does not read; ${STORE_AS} ` +
        '(keytool -importkeystore -deststoretype PKCS12 converts it)',
    );
  }
  if (bytes.length > 0 && bytes[0] === 0x30) {
    try {
      return { ok: true, value: decodePkcs12(bytes, password ?? '') };
    } catch (e) {
      if (e instanceof KeystoreFailure) return failure(e.code, e.message);
      // forge's DER decoder and ciphers throw on malformed input; their text is not shown.
      return failure(KeystoreErrorCode.InvalidKeystore, 'the keystore is not a PKCS#12 file that parses');
    }
  }
  return decodePem(bytes.toString('utf8'));
}

function failure(code: KeystoreErrorCode, message: string): Result<never, KeystoreError> {
  return { ok: false, error: { code, message } };
}

function decodePem(text: string): Result<DecodedKeystore, KeystoreError> {
  const blocks = scanPem(text);
  if (blocks.length === 0) {
    return failure(KeystoreErrorCode.InvalidKeystore, `the keystore is neither PEM nor PKCS#12; ${STORE_AS}`);
  }
  const certificates = blocks.filter((b) => b.kind === 'block' && b.label === 'CERTIFICATE');
  if (certificates.length > MAX_CERTIFICATES) {
    return failure(
      KeystoreErrorCode.InputTooLarge,
      `the keystore holds ${certificates.length} certificates; at most ${MAX_CERTIFICATES} are accepted`,
    );
  }
  const keys = blocks.filter((b) => b.label.endsWith('PRIVATE KEY') || b.label === 'EC PARAMETERS');
  // The blocks go on as text: parseCredentialPems and parsePrivateKey judge them, with their reasons.
  const pick = (items: typeof blocks) =>
    items.map((b) =>
      b.kind === 'block' && b.der !== null ? encodePem(b.label, b.der) : brokenBlock(b.label),
    );
  return {
    ok: true,
    value: {
      format: 'PEM',
      certificate: pick(blocks.filter((b) => !keys.includes(b))).join(''),
      key: keys.length === 0 ? undefined : pick(keys).join(''),
    },
  };
}

/** A block that does not decode stays a block that does not decode, for the validation to name. */
const brokenBlock = (label: string) => `-----BEGIN ${label}-----\n-----END ${label}-----\n`;

function decodePkcs12(der: Buffer, password: string): DecodedKeystore {
  const pfx = fromDer(der);
  const [version, authSafe, macData] = children(pfx, 'the PFX');
  if (version?.type !== Type.INTEGER || authSafe === undefined)
    throw invalid('the keystore is not a PKCS#12 PFX');
  const content = contentInfo(authSafe, 'the PFX');
  if (content.type !== OID.data) throw invalid('the PKCS#12 keystore is not password-protected data');
  const authenticated = octets(content.value);
  if (macData !== undefined) verifyMac(macData, authenticated, password);

  const certificates: Buffer[] = [];
  const keys: Buffer[] = [];
  for (const info of children(fromDer(authenticated), 'the authenticated safe')) {
    const safe = contentInfo(info, 'the authenticated safe');
    let safeContents: Buffer;
    if (safe.type === OID.data) safeContents = octets(safe.value);
    else if (safe.type === OID.encryptedData) safeContents = decryptData(safe.value, password);
    else continue; // public-key protected safes (enveloped data) are not used for client keystores
    for (const bag of children(fromDer(safeContents), 'the safe contents')) {
      const [id, wrapped] = children(bag, 'a safe bag');
      const value = wrapped === undefined ? undefined : children(wrapped, 'a safe bag')[0];
      if (id === undefined || value === undefined) throw invalid('a PKCS#12 safe bag is incomplete');
      const bagId = oidOf(id);
      if (bagId === OID.keyBag) keys.push(toDer(value));
      else if (bagId === OID.pkcs8ShroudedKeyBag) keys.push(decryptKey(value, password));
      else if (bagId === OID.certBag) certificates.push(certificateOf(value));
      if (certificates.length > MAX_CERTIFICATES) {
        throw new KeystoreFailure(
          KeystoreErrorCode.InputTooLarge,
          `the keystore holds more than ${MAX_CERTIFICATES} certificates`,
        );
      }
    }
  }
  if (keys.length > 1) throw invalid(`the PKCS#12 keystore holds ${keys.length} private keys; expected one`);
  const [key] = keys;
  return {
    format: 'PKCS12',
    certificate: certificates.map((c) => encodePem('CERTIFICATE', c)).join(''),
    key: key === undefined ? undefined : pkcs8Pem(key),
  };
}

/** RFC 7292 MacData: the HMAC over the authenticated safe, keyed from the password. */
function verifyMac(macData: Asn1, authenticated: Buffer, password: string): void {
  const [digestInfo, salt, iterations] = children(macData, 'the MAC');
  const [algorithm, digest] = digestInfo === undefined ? [] : children(digestInfo, 'the MAC');
  const algorithmId = algorithm === undefined ? undefined : children(algorithm, 'the MAC')[0];
  if (algorithmId === undefined || digest === undefined || salt === undefined)
    throw invalid('the PKCS#12 MAC is incomplete');
  const md = MAC_DIGESTS[oidOf(algorithmId)];
  if (md === undefined) throw invalid('the PKCS#12 MAC uses a digest the operator does not support');
  const count = iterations === undefined ? 1 : boundedInteger(iterations, 'MAC');
  const expected = octets(digest);
  const saltBuffer = forge.util.createBuffer(octets(salt).toString('binary'));
  // An empty password is the two zero bytes of an empty BMPString for OpenSSL, no bytes at all for
  // some other writers; OpenSSL tries both, and so do we.
  const candidates: (string | null)[] = password === '' ? ['', null] : [password];
  for (const candidate of candidates) {
    const macKey = forge.pkcs12.generateKey(
      // forge's declaration says string; its code takes null for "no password bytes".
      candidate as string,
      saltBuffer,
      3,
      count,
      md.bytes,
      forge.md[md.name as 'sha1'].create(),
    );
    const mac = createHmac(md.name, Buffer.from(macKey.getBytes(), 'binary')).update(authenticated).digest();
    if (mac.length === expected.length && timingSafeEqual(mac, expected)) return;
  }
  throw new KeystoreFailure(
    KeystoreErrorCode.KeystorePasswordIncorrect,
    'the password does not open the PKCS#12 keystore (its integrity check fails)',
  );
}

/** EncryptedData { version, EncryptedContentInfo { contentType, algorithm, [0] content } }. */
function decryptData(encryptedData: Asn1, password: string): Buffer {
  const [, encryptedContentInfo] = children(encryptedData, 'the encrypted safe');
  const [, algorithm, content] =
    encryptedContentInfo === undefined ? [] : children(encryptedContentInfo, 'the encrypted safe');
  if (algorithm === undefined || content === undefined)
    throw invalid('the PKCS#12 encrypted safe is incomplete');
  return decrypt(algorithm, octets(content), password);
}

/** EncryptedPrivateKeyInfo { algorithm, encryptedData }: the key as PKCS#8 PrivateKeyInfo DER. */
function decryptKey(encrypted: Asn1, password: string): Buffer {
  const [algorithm, data] = children(encrypted, 'the encrypted key');
  if (algorithm === undefined || data === undefined) throw invalid('the PKCS#12 encrypted key is incomplete');
  return decrypt(algorithm, octets(data), password);
}

function decrypt(algorithm: Asn1, data: Buffer, password: string): Buffer {
  const [id, params] = children(algorithm, 'an encryption algorithm');
  if (id === undefined || params === undefined) throw invalid('a PKCS#12 encryption algorithm is incomplete');
  // Every integer of the parameters (PBKDF2's or PKCS#12 PBE's iteration count, a key length) is
  // held to the cap before a key is derived.
  for (const n of integersUnder(params)) boundedInteger(n, 'encryption');
  const oid = oidOf(id);
  // PBES2 derives from the password's UTF-8 bytes (as OpenSSL); PKCS#12 PBE from its BMPString.
  const secret = oid === OID.pbes2 ? forge.util.encodeUtf8(password) : password;
  let cipher: PbeCipher;
  try {
    cipher = pbe.getCipher(oid, params, secret);
  } catch {
    throw invalid('the PKCS#12 keystore uses an encryption the operator does not support');
  }
  cipher.update(forge.util.createBuffer(data.toString('binary')));
  // The padding check is the only word a cipher has on the password when there is no MAC.
  if (!cipher.finish()) {
    throw new KeystoreFailure(
      KeystoreErrorCode.KeystorePasswordIncorrect,
      'the password does not open the PKCS#12 keystore (a decryption fails)',
    );
  }
  return Buffer.from(cipher.output.getBytes(), 'binary');
}

/** CertBag { certId x509Certificate, [0] EXPLICIT OCTET STRING }: the certificate's DER. */
function certificateOf(certBag: Asn1): Buffer {
  const [id, wrapped] = children(certBag, 'a certificate bag');
  const value = wrapped === undefined ? undefined : children(wrapped, 'a certificate bag')[0];
  if (id === undefined || value === undefined) throw invalid('a PKCS#12 certificate bag is incomplete');
  if (oidOf(id) !== OID.x509Certificate)
    throw invalid('a PKCS#12 certificate bag holds no X.509 certificate');
  return octets(value);
}

function pkcs8Pem(der: Buffer): string {
  try {
    return createPrivateKey({ key: der, format: 'der', type: 'pkcs8' })
      .export({ type: 'pkcs8', format: 'pem' })
      .toString();
  } catch {
    throw invalid('the private key of the PKCS#12 keystore does not parse');
  }
}

/** ContentInfo { contentType, [0] EXPLICIT content }. */
function contentInfo(node: Asn1, where: string): { type: string; value: Asn1 } {
  const [type, wrapped] = children(node, where);
  const value = wrapped === undefined ? undefined : children(wrapped, where)[0];
  if (type === undefined || value === undefined) throw invalid(`a content info of ${where} is incomplete`);
  return { type: oidOf(type), value };
}

function children(node: Asn1, where: string): Asn1[] {
  if (!node.constructed || !Array.isArray(node.value))
    throw invalid(`${where} of the PKCS#12 keystore is malformed`);
  return node.value;
}

function oidOf(node: Asn1): string {
  if (node.tagClass !== Class.UNIVERSAL || node.type !== Type.OID || typeof node.value !== 'string')
    throw invalid('the PKCS#12 keystore has an object identifier where none belongs');
  return forge.asn1.derToOid(node.value);
}

/** The bytes of an OCTET STRING (or an implicitly tagged one), also in BER's constructed form. */
function octets(node: Asn1): Buffer {
  if (typeof node.value === 'string') return Buffer.from(node.value, 'binary');
  return Buffer.concat(node.value.map(octets));
}

function* integersUnder(node: Asn1): Generator<Asn1> {
  if (node.tagClass === Class.UNIVERSAL && node.type === Type.INTEGER) yield node;
  if (Array.isArray(node.value)) for (const child of node.value) yield* integersUnder(child);
}

function boundedInteger(node: Asn1, what: string): number {
  const bytes = typeof node.value === 'string' ? Buffer.from(node.value, 'binary') : Buffer.alloc(0);
  const value =
    bytes.length === 0 || bytes.length > 4 ? Number.POSITIVE_INFINITY : bytes.readUIntBE(0, bytes.length);
  if (node.type !== Type.INTEGER || (bytes[0] ?? 0) & 0x80 || value < 1 || value > MAX_KEYSTORE_ITERATIONS) {
    throw invalid(
      `the PKCS#12 ${what} iteration count is out of range (1 to ${MAX_KEYSTORE_ITERATIONS} are accepted)`,
    );
  }
  return value;
}

function fromDer(der: Buffer): Asn1 {
  return fromDerWith(forge.util.createBuffer(der.toString('binary')), {
    strict: false,
    parseAllBytes: true,
    decodeBitStrings: false,
  });
}

function toDer(node: Asn1): Buffer {
  return Buffer.from(forge.asn1.toDer(node).getBytes(), 'binary');
}
