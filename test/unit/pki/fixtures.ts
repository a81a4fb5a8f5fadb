// Fixture builders for the PKI tests: keys from node:crypto (generated once per process and
// reused), certificates assembled with node-forge and signed with node:crypto, so that RSA and EC
// keys can appear on either side of a signature (node-forge alone cannot hold an EC key).

import { generateKeyPairSync, type KeyObject, randomBytes, sign } from 'node:crypto';
import forge from 'node-forge';

export const NOW = new Date('2026-06-01T12:00:00Z');
export const DAY = 86_400_000;

export function days(count: number, from: Date = NOW): Date {
  return new Date(from.getTime() + count * DAY);
}

export type KeyKind = 'rsa' | 'ec';
export type KeyEncoding = 'pkcs1' | 'pkcs8' | 'sec1';

export type TestKey = {
  readonly kind: KeyKind;
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
};

const keys = new Map<string, TestKey>();

/**
 * A key pair by name, generated on first use: RSA 2048 (as XSUAA issues) or EC P-256 (as IAS).
 * Every test file runs in its own worker and pays for its keys, so the tests share a few names:
 * 'root', 'intermediate', 'leaf' and 'other' (any key that must differ from the hierarchy's).
 */
export function testKey(name: string, kind: KeyKind = 'rsa'): TestKey {
  const id = `${kind}:${name}`;
  let key = keys.get(id);
  if (key === undefined) {
    const pair =
      kind === 'rsa'
        ? generateKeyPairSync('rsa', { modulusLength: 2048 })
        : generateKeyPairSync('ec', { namedCurve: 'P-256' });
    key = { kind, ...pair };
    keys.set(id, key);
  }
  return key;
}

export function keyPem(key: TestKey, encoding: KeyEncoding): string {
  return String(key.privateKey.export({ type: encoding, format: 'pem' }));
}

/** PKCS#8 EncryptedPrivateKeyInfo ("ENCRYPTED PRIVATE KEY"). */
export function encryptedPkcs8Pem(key: TestKey): string {
  return String(
    key.privateKey.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'secret' }),
  );
}

/** Traditional OpenSSL encryption: PKCS#1 with Proc-Type and DEK-Info headers. */
export function encryptedPkcs1Pem(key: TestKey): string {
  return String(
    key.privateKey.export({ type: 'pkcs1', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'secret' }),
  );
}

/** A distinguished name, most general attribute first (the DER order). */
export type Name = readonly { readonly shortName: 'C' | 'O' | 'OU' | 'L' | 'CN'; readonly value: string }[];

export function btpName(commonName: string): Name {
  return [
    { shortName: 'C', value: 'DE' },
    { shortName: 'O', value: 'SAP SE' },
    { shortName: 'OU', value: 'SAP Cloud Platform Clients' },
    { shortName: 'CN', value: commonName },
  ];
}

/** How the PKI module prints a Name: most specific first, on one line. */
export function oneLine(name: Name): string {
  return [...name]
    .reverse()
    .map(({ shortName, value }) => `${shortName}=${value}`)
    .join(', ');
}

export type CertificateSpec = {
  readonly subject: Name;
  readonly key: TestKey;
  /** Absent: self-signed with `key`. */
  readonly issuer?: { readonly name: Name; readonly key: TestKey };
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly ca: boolean;
};

export type TestCertificate = {
  readonly pem: string;
  readonly der: Buffer;
  readonly name: Name;
  readonly subject: string;
  readonly key: TestKey;
  readonly notBefore: Date;
  readonly notAfter: Date;
};

const SIGNATURE_ALGORITHMS: Readonly<Record<KeyKind, { oid: string; nullParameters: boolean }>> = {
  rsa: { oid: '1.2.840.113549.1.1.11', nullParameters: true }, // sha256WithRSAEncryption
  ec: { oid: '1.2.840.10045.4.3.2', nullParameters: false }, // ecdsa-with-SHA256
};

// forge needs an RSA public key to lay out the TBSCertificate; the real one replaces it.
const PLACEHOLDER_PUBLIC_KEY = forge.pki.setRsaPublicKey(
  new forge.jsbn.BigInteger('3', 16),
  new forge.jsbn.BigInteger('3', 16),
);

// node-forge has getTBSCertificate; @types/node-forge does not declare it.
const forgeTbs = forge.pki as unknown as {
  getTBSCertificate(cert: forge.pki.Certificate): forge.asn1.Asn1;
};

export function buildCertificate(spec: CertificateSpec): TestCertificate {
  const issuer = spec.issuer ?? { name: spec.subject, key: spec.key };
  const cert = forge.pki.createCertificate();
  const serial = randomBytes(9);
  serial[0] = ((serial[0] ?? 0) & 0x7f) | 0x10; // positive, and minimal DER (no leading zero byte)
  cert.serialNumber = serial.toString('hex');
  cert.validity.notBefore = spec.notBefore;
  cert.validity.notAfter = spec.notAfter;
  cert.setSubject(spec.subject.map(({ shortName, value }) => ({ shortName, value })));
  cert.setIssuer(issuer.name.map(({ shortName, value }) => ({ shortName, value })));
  cert.setExtensions(
    spec.ca
      ? [
          { name: 'basicConstraints', cA: true, critical: true },
          { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
        ]
      : [
          { name: 'basicConstraints', cA: false },
          {
            name: 'keyUsage',
            digitalSignature: true,
            keyEncipherment: spec.key.kind === 'rsa',
            critical: true,
          },
          { name: 'extKeyUsage', clientAuth: true },
        ],
  );
  cert.publicKey = PLACEHOLDER_PUBLIC_KEY;
  cert.siginfo.algorithmOid = SIGNATURE_ALGORITHMS[issuer.key.kind].oid;

  const algorithm = signatureAlgorithm(issuer.key.kind);
  const tbs = forgeTbs.getTBSCertificate(cert);
  const fields = tbs.value as forge.asn1.Asn1[];
  fields[2] = algorithm; // signature (forge would add NULL parameters to ECDSA too)
  fields[6] = fromDer(spec.key.publicKey.export({ type: 'spki', format: 'der' })); // subjectPublicKeyInfo
  const signature = sign('sha256', toDer(tbs), issuer.key.privateKey);
  const certificate = asn1Sequence([
    tbs,
    signatureAlgorithm(issuer.key.kind),
    forge.asn1.create(
      forge.asn1.Class.UNIVERSAL,
      forge.asn1.Type.BITSTRING,
      false,
      `\u0000${signature.toString('binary')}`,
    ),
  ]);
  const der = toDer(certificate);
  return {
    pem: pemOf(der),
    der,
    name: spec.subject,
    subject: oneLine(spec.subject),
    key: spec.key,
    notBefore: spec.notBefore,
    notAfter: spec.notAfter,
  };
}

function signatureAlgorithm(kind: KeyKind): forge.asn1.Asn1 {
  const { oid, nullParameters } = SIGNATURE_ALGORITHMS[kind];
  const oidNode = forge.asn1.create(
    forge.asn1.Class.UNIVERSAL,
    forge.asn1.Type.OID,
    false,
    forge.asn1.oidToDer(oid).getBytes(),
  );
  return asn1Sequence(
    nullParameters
      ? [oidNode, forge.asn1.create(forge.asn1.Class.UNIVERSAL, forge.asn1.Type.NULL, false, '')]
      : [oidNode],
  );
}

function asn1Sequence(children: forge.asn1.Asn1[]): forge.asn1.Asn1 {
  return forge.asn1.create(forge.asn1.Class.UNIVERSAL, forge.asn1.Type.SEQUENCE, true, children);
}

function fromDer(der: Buffer): forge.asn1.Asn1 {
  return forge.asn1.fromDer(forge.util.createBuffer(der.toString('binary')));
}

function toDer(value: forge.asn1.Asn1): Buffer {
  return Buffer.from(forge.asn1.toDer(value).getBytes(), 'binary');
}

/** Canonical PEM, 64-character lines, as the module re-emits certificates. */
export function pemOf(der: Buffer, label = 'CERTIFICATE'): string {
  const lines = der.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

export type Validity = { readonly notBefore?: Date; readonly notAfter?: Date };

export type HierarchyOptions = {
  readonly leafKey?: KeyKind;
  readonly leaf?: Validity;
  readonly intermediate?: Validity;
  readonly root?: Validity;
};

export type Hierarchy = {
  readonly root: TestCertificate;
  readonly intermediate: TestCertificate;
  readonly leaf: TestCertificate;
};

/**
 * root -> intermediate -> leaf, as XSUAA issues them. Default validity around NOW: the root ten
 * years, the intermediate five, the leaf seven days (BTP's default) starting a day before NOW.
 */
export function buildHierarchy(options: HierarchyOptions = {}): Hierarchy {
  const rootName: Name = [
    { shortName: 'C', value: 'DE' },
    { shortName: 'O', value: 'SAP SE' },
    { shortName: 'CN', value: 'Test Root CA' },
  ];
  const intermediateName: Name = [
    { shortName: 'C', value: 'DE' },
    { shortName: 'L', value: 'EU10' },
    { shortName: 'O', value: 'SAP SE' },
    { shortName: 'CN', value: 'Test Client CA' },
  ];
  const root = buildCertificate({
    subject: rootName,
    key: testKey('root'),
    notBefore: options.root?.notBefore ?? days(-365),
    notAfter: options.root?.notAfter ?? days(3650),
    ca: true,
  });
  const intermediate = buildCertificate({
    subject: intermediateName,
    key: testKey('intermediate'),
    issuer: { name: rootName, key: root.key },
    notBefore: options.intermediate?.notBefore ?? days(-180),
    notAfter: options.intermediate?.notAfter ?? days(1825),
    ca: true,
  });
  const leaf = buildCertificate({
    subject: btpName('leaf-client'),
    key: testKey('leaf', options.leafKey ?? 'rsa'),
    issuer: { name: intermediateName, key: intermediate.key },
    notBefore: options.leaf?.notBefore ?? days(-1),
    notAfter: options.leaf?.notAfter ?? days(6),
    ca: false,
  });
  return { root, intermediate, leaf };
}

/** A self-signed CA that has nothing to do with the hierarchy. */
export function foreignRoot(): TestCertificate {
  return buildCertificate({
    subject: [
      { shortName: 'C', value: 'US' },
      { shortName: 'O', value: 'Elsewhere Inc' },
      { shortName: 'CN', value: 'Foreign Root CA' },
    ],
    key: testKey('other'),
    notBefore: days(-365),
    notAfter: days(3650),
    ca: true,
  });
}

export function concat(...certificates: readonly TestCertificate[]): string {
  return certificates.map(({ pem }) => pem).join('');
}
