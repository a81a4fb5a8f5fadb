// A PKCS#12 keystore (RFC 7292) with the private key, the leaf and its intermediates, for Java
// and other keystore consumers.
//
// Algorithms, the set OpenSSL 3 writes by default:
// - key: PKCS#8 EncryptedPrivateKeyInfo, PBES2 with PBKDF2-HMAC-SHA256 (2048 iterations) and
//   AES-256-CBC, produced by node:crypto (OpenSSL) from the key, so every key type works;
// - integrity: HMAC-SHA256 over the content, its key from the PKCS#12 KDF with SHA-256;
// - certificates: an unencrypted SafeContents (they are public; Java and OpenSSL read both).
// Readers: OpenSSL 1.1.1+ and 3.x, Java 11.0.12+ / 17+ keytool (SHA-256 MACs arrived with
// JDK-8076190 in 12 and 11.0.12). node-forge's own toPkcs12Asn1 is not used: it takes only RSA keys
// as forge objects (IAS keys are EC), cannot parse EC certificates and always writes an SHA-1 MAC.
// node-forge supplies the DER encoder and the PKCS#12 KDF.
//
// Passwords must be ASCII: Java refuses to derive a PBES2 key from anything else ("Password is not
// ASCII"), so such a keystore would open in OpenSSL and fail in the JVM it was made for.
//
// Salts and IVs are random, so two keystores of the same bundle differ byte for byte: callers that
// detect changes must compare the inputs (bundle and password), never the keystore bytes.

import { createHash, createHmac, createPrivateKey, randomBytes } from 'node:crypto';
import forge from 'node-forge';
import { OutputErrorCode, type OutputResult } from './errors.ts';
import { scanPem } from './pem.ts';
import type { ValidatedBundle } from './validate.ts';

export type Pkcs12Options = {
  /**
   * The friendlyName of the key and leaf entries, which keytool shows as the alias. Default
   * 'certificate': fixed, so that applications configured with an alias survive rotation.
   */
  readonly friendlyName?: string;
};

export const DEFAULT_PKCS12_FRIENDLY_NAME = 'certificate';

const MAC_ITERATIONS = 2048;
const MAC_SALT_BYTES = 16;

const OID = {
  data: '1.2.840.113549.1.7.1',
  pkcs8ShroudedKeyBag: '1.2.840.113549.1.12.10.1.2',
  certBag: '1.2.840.113549.1.12.10.1.3',
  x509Certificate: '1.2.840.113549.1.9.22.1',
  friendlyName: '1.2.840.113549.1.9.20',
  localKeyId: '1.2.840.113549.1.9.21',
  sha256: '2.16.840.1.101.3.4.2.1',
} as const;

const { Class, Type } = forge.asn1;
type Asn1 = forge.asn1.Asn1;

/**
 * The keystore for `bundle`, protected with `password` (which may be empty). Fails with a typed
 * error for a password Java cannot use; throws only if the bundle was not made by
 * parseCredentialPems (its key or chain does not parse), which is a programming error.
 */
export function pkcs12(
  bundle: Pick<ValidatedBundle, 'keyPem' | 'chainPem'>,
  password: string,
  options: Pkcs12Options = {},
): OutputResult<Buffer> {
  if (typeof password !== 'string') throw new TypeError('pkcs12: password must be a string');
  if (/\P{ASCII}/u.test(password)) {
    return {
      ok: false,
      error: {
        code: OutputErrorCode.UnsupportedPassword,
        message:
          'the PKCS12 password has characters outside ASCII, which Java cannot use to open a keystore; choose an ASCII password',
      },
    };
  }
  const certificates = scanPem(bundle.chainPem).map((item) => {
    if (item.kind !== 'block' || item.label !== 'CERTIFICATE' || item.der === null) {
      throw new TypeError('pkcs12: the bundle chain is not the PEM that parseCredentialPems produces');
    }
    return item.der;
  });
  const [leaf] = certificates;
  if (leaf === undefined) throw new TypeError('pkcs12: the bundle chain holds no certificate');

  const encryptedKey = createPrivateKey(bundle.keyPem).export({
    type: 'pkcs8',
    format: 'der',
    cipher: 'aes-256-cbc',
    passphrase: password,
  });
  const entryAttributes = [
    attribute(OID.localKeyId, octetString(createHash('sha1').update(leaf).digest())),
    attribute(OID.friendlyName, node(Type.BMPSTRING, options.friendlyName ?? DEFAULT_PKCS12_FRIENDLY_NAME)),
  ];
  const certificateBags = certificates.map((der, index) =>
    safeBag(
      OID.certBag,
      sequence([oid(OID.x509Certificate), explicit0(octetString(der))]),
      index === 0 ? entryAttributes : [],
    ),
  );
  const keyBag = safeBag(OID.pkcs8ShroudedKeyBag, fromDer(encryptedKey), entryAttributes);
  const authenticatedSafe = toDer(
    sequence([dataContentInfo(toDer(sequence(certificateBags))), dataContentInfo(toDer(sequence([keyBag])))]),
  );

  const salt = randomBytes(MAC_SALT_BYTES);
  const macKey = forge.pkcs12.generateKey(
    password,
    forge.util.createBuffer(salt.toString('binary')),
    3, // RFC 7292 B.3: ID 3 derives MAC key material
    MAC_ITERATIONS,
    32,
    forge.md.sha256.create(),
  );
  const mac = createHmac('sha256', Buffer.from(macKey.getBytes(), 'binary'))
    .update(authenticatedSafe)
    .digest();
  const macData = sequence([
    sequence([sequence([oid(OID.sha256), node(Type.NULL, '')]), octetString(mac)]),
    octetString(salt),
    integer(MAC_ITERATIONS),
  ]);
  return { ok: true, value: toDer(sequence([integer(3), dataContentInfo(authenticatedSafe), macData])) };
}

function safeBag(bagId: string, value: Asn1, attributes: readonly Asn1[]): Asn1 {
  const parts = [oid(bagId), explicit0(value)];
  if (attributes.length > 0) parts.push(forge.asn1.create(Class.UNIVERSAL, Type.SET, true, [...attributes]));
  return sequence(parts);
}

function attribute(attributeId: string, value: Asn1): Asn1 {
  return sequence([oid(attributeId), forge.asn1.create(Class.UNIVERSAL, Type.SET, true, [value])]);
}

function dataContentInfo(content: Buffer): Asn1 {
  return sequence([oid(OID.data), explicit0(octetString(content))]);
}

function sequence(children: Asn1[]): Asn1 {
  return forge.asn1.create(Class.UNIVERSAL, Type.SEQUENCE, true, children);
}

function explicit0(child: Asn1): Asn1 {
  return forge.asn1.create(Class.CONTEXT_SPECIFIC, 0, true, [child]);
}

function oid(dotted: string): Asn1 {
  return node(Type.OID, forge.asn1.oidToDer(dotted).getBytes());
}

function integer(value: number): Asn1 {
  return node(Type.INTEGER, forge.asn1.integerToDer(value).getBytes());
}

function octetString(bytes: Uint8Array): Asn1 {
  return node(Type.OCTETSTRING, Buffer.from(bytes).toString('binary'));
}

/** A primitive node; forge holds bytes as binary strings (and encodes a BMPSTRING from text). */
function node(type: forge.asn1.Type, value: string): Asn1 {
  return forge.asn1.create(Class.UNIVERSAL, type, false, value);
}

function fromDer(der: Buffer): Asn1 {
  return forge.asn1.fromDer(forge.util.createBuffer(der.toString('binary')));
}

function toDer(value: Asn1): Buffer {
  return Buffer.from(forge.asn1.toDer(value).getBytes(), 'binary');
}
