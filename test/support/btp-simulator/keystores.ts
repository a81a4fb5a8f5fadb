// Keystore files as the Destination service stores them (btp.md §6), built and read with
// node-forge: PEM (certificate chain and private key in one file), PKCS#12/PFX with a password,
// and JKS, which the simulator only marks (the magic 0xFEEDFEED and opaque bytes), since what is
// tested is that a JKS file is recognised and refused, not read.
import { randomBytes, X509Certificate } from 'node:crypto';
import forge from 'node-forge';
import { pemBlocks } from './pem.ts';
import { fingerprint256 } from './pki.ts';

export const KEYSTORE_FORMATS = ['pem', 'p12', 'jks'] as const;
export type KeystoreFormat = (typeof KEYSTORE_FORMATS)[number];

export const JKS_MAGIC = Buffer.from([0xfe, 0xed, 0xfe, 0xed]);

export interface KeyMaterial {
  /** PEM blocks, leaf first. */
  readonly chain: readonly string[];
  /** PKCS#8 PEM. */
  readonly keyPem: string;
}

/** The chain, then the key, in one PEM file. */
export function pemKeystore(material: KeyMaterial): Buffer {
  return Buffer.from(material.chain.join('') + material.keyPem, 'utf8');
}

/** PKCS#12 with the key and chain, 3DES-encrypted under `password` (as most tools still write it). */
export function p12Keystore(material: KeyMaterial, password: string): Buffer {
  const key = forge.pki.privateKeyFromPem(material.keyPem);
  const certificates = material.chain.map((pem) => forge.pki.certificateFromPem(pem));
  const asn1 = forge.pkcs12.toPkcs12Asn1(key, certificates, password, {
    algorithm: '3des',
    friendlyName: 'client',
  });
  return Buffer.from(forge.asn1.toDer(asn1).getBytes(), 'binary');
}

/** A file that starts like a Java keystore (magic, version 2) and holds nothing readable. */
export function jksKeystore(): Buffer {
  return Buffer.concat([JKS_MAGIC, Buffer.from([0, 0, 0, 2]), randomBytes(256)]);
}

export function buildKeystore(format: KeystoreFormat, material: KeyMaterial, password: string): Buffer {
  switch (format) {
    case 'pem':
      return pemKeystore(material);
    case 'p12':
      return p12Keystore(material, password);
    case 'jks':
      return jksKeystore();
  }
}

/** The format a stored file's name says (`.pem`, `.p12`/`.pfx`, `.jks`); PEM when none. */
export function formatOfName(name: string): KeystoreFormat {
  const lower = name.toLowerCase();
  if (lower.endsWith('.p12') || lower.endsWith('.pfx')) return 'p12';
  if (lower.endsWith('.jks')) return 'jks';
  return 'pem';
}

/**
 * SHA-256 fingerprints (Node's form) of the certificates in a file: every CERTIFICATE block of
 * a PEM file, every certificate of a PKCS#12 that opens with `password`. Empty when the file
 * cannot be read (JKS, corrupt, wrong password).
 */
export function certificateFingerprints(content: Buffer, password: string | undefined): string[] {
  if (content.subarray(0, 4).equals(JKS_MAGIC)) return [];
  const text = content.toString('utf8');
  if (text.includes('-----BEGIN CERTIFICATE-----')) {
    const found: string[] = [];
    for (const block of pemBlocks(text)) {
      if (!block.startsWith('-----BEGIN CERTIFICATE-----')) continue;
      try {
        found.push(fingerprint256(Buffer.from(new X509Certificate(block).raw)));
      } catch {
        // a broken block holds no certificate
      }
    }
    return found;
  }
  try {
    const p12 = forge.pkcs12.pkcs12FromAsn1(
      forge.asn1.fromDer(forge.util.createBuffer(content.toString('binary'))),
      password ?? '',
    );
    const bags = p12.getBags({ bagType: forge.pki.oids.certBag ?? '1.2.840.113549.1.12.10.1.3' });
    return Object.values(bags)
      .flat()
      .flatMap((bag) => (bag?.cert === undefined ? [] : [bag.cert]))
      .map((certificate) =>
        fingerprint256(
          Buffer.from(forge.asn1.toDer(forge.pki.certificateToAsn1(certificate)).getBytes(), 'binary'),
        ),
      );
  } catch {
    return [];
  }
}

/** A PKCS#10 request's public key (PEM), after its signature was checked; undefined if invalid. */
export function csrPublicKey(csr: string): { readonly publicKeyPem: string } | undefined {
  try {
    const request = forge.pki.certificationRequestFromPem(csr);
    if (!request.verify() || request.publicKey === null) return undefined;
    return { publicKeyPem: forge.pki.publicKeyToPem(request.publicKey) };
  } catch {
    return undefined;
  }
}

/** A test's CSR for `keyPem` (PKCS#8 or PKCS#1), signed with SHA-256. */
export function createCsr(keyPem: string, publicKeyPem: string, commonName: string): string {
  const request = forge.pki.createCertificationRequest();
  request.publicKey = forge.pki.publicKeyFromPem(publicKeyPem);
  request.setSubject([{ shortName: 'CN', value: commonName }]);
  request.sign(forge.pki.privateKeyFromPem(keyPem), forge.md.sha256.create());
  return forge.pki.certificationRequestToPem(request);
}
