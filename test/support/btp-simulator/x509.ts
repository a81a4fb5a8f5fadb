// The node-forge boundary: builds an X.509 v3 certificate's TBSCertificate with forge's
// ASN.1 encoder and signs it with node:crypto (native RSA, much faster than forge's JS).
import { createHash, type KeyObject, sign } from 'node:crypto';
import forge from 'node-forge';
import { pemEncode } from './pem.ts';

export type NameAttribute = 'CN' | 'OU' | 'O' | 'L' | 'C';
export type DistinguishedName = ReadonlyArray<readonly [NameAttribute, string]>;

export type CertificateProfile =
  | { readonly kind: 'ca'; readonly pathLength: number }
  | { readonly kind: 'server'; readonly dnsNames: readonly string[]; readonly ipAddresses: readonly string[] }
  | { readonly kind: 'client' };

export interface CertificateSpec {
  readonly subject: DistinguishedName;
  readonly issuer: DistinguishedName;
  /** Positive, minimally encoded: even number of hex digits, first byte 0x01-0x7f. */
  readonly serialHex: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly publicKey: KeyObject;
  /** The issuer's private key; the subject's own key for a self-signed certificate. */
  readonly signingKey: KeyObject;
  /** The issuer's subject key identifier. */
  readonly authorityKeyId: Buffer;
  readonly profile: CertificateProfile;
}

export interface BuiltCertificate {
  readonly pem: string;
  readonly der: Buffer;
}

const SHA256_WITH_RSA = forge.pki.oids.sha256WithRSAEncryption ?? '1.2.840.113549.1.1.11';
const { asn1 } = forge;

/** RFC 5280 4.2.1.2 method 1: SHA-1 of the subjectPublicKey bits (the PKCS#1 RSAPublicKey). */
export function keyIdentifier(publicKey: KeyObject): Buffer {
  return createHash('sha1')
    .update(publicKey.export({ type: 'pkcs1', format: 'der' }))
    .digest();
}

export function randomSerialHex(randomBytes: (size: number) => Buffer): string {
  const bytes = randomBytes(16);
  bytes[0] = ((bytes[0] ?? 0) & 0x3f) | 0x40;
  return bytes.toString('hex');
}

function octetString(bytes: Buffer): forge.asn1.Asn1 {
  return asn1.create(asn1.Class.UNIVERSAL, asn1.Type.OCTETSTRING, false, bytes.toString('binary'));
}

function extensionsFor(spec: CertificateSpec): object[] {
  const common = [
    { name: 'subjectKeyIdentifier', value: octetString(keyIdentifier(spec.publicKey)) },
    {
      name: 'authorityKeyIdentifier',
      value: asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [
        asn1.create(asn1.Class.CONTEXT_SPECIFIC, 0, false, spec.authorityKeyId.toString('binary')),
      ]),
    },
  ];
  const profile = spec.profile;
  switch (profile.kind) {
    case 'ca':
      return [
        { name: 'basicConstraints', cA: true, pathLenConstraint: profile.pathLength, critical: true },
        { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
        ...common,
      ];
    case 'server':
      return [
        { name: 'basicConstraints', cA: false, critical: true },
        { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
        { name: 'extKeyUsage', serverAuth: true },
        {
          name: 'subjectAltName',
          altNames: [
            ...profile.dnsNames.map((value) => ({ type: 2, value })),
            ...profile.ipAddresses.map((ip) => ({ type: 7, ip })),
          ],
        },
        ...common,
      ];
    case 'client':
      return [
        { name: 'basicConstraints', cA: false, critical: true },
        { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
        { name: 'extKeyUsage', clientAuth: true },
        ...common,
      ];
  }
}

export function buildCertificate(spec: CertificateSpec): BuiltCertificate {
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(
    spec.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  );
  cert.serialNumber = spec.serialHex;
  cert.validity.notBefore = spec.notBefore;
  cert.validity.notAfter = spec.notAfter;
  cert.setSubject(spec.subject.map(([shortName, value]) => ({ shortName, value })));
  cert.setIssuer(spec.issuer.map(([shortName, value]) => ({ shortName, value })));
  cert.setExtensions(extensionsFor(spec));
  cert.signatureOid = SHA256_WITH_RSA;
  cert.siginfo.algorithmOid = SHA256_WITH_RSA;
  cert.signature = '';

  const certificate = forge.pki.certificateToAsn1(cert);
  const parts = certificate.value;
  const tbs = Array.isArray(parts) ? parts[0] : undefined;
  if (!Array.isArray(parts) || tbs === undefined)
    throw new Error('forge produced an unexpected certificate shape');
  const signature = sign('sha256', Buffer.from(asn1.toDer(tbs).getBytes(), 'binary'), spec.signingKey);
  parts[2] = asn1.create(
    asn1.Class.UNIVERSAL,
    asn1.Type.BITSTRING,
    false,
    `\u0000${signature.toString('binary')}`,
  );
  const der = Buffer.from(asn1.toDer(certificate).getBytes(), 'binary');
  return { der, pem: pemEncode('CERTIFICATE', der) };
}
