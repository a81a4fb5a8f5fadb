// Throwaway PKI for one control plane: a CA, a serving certificate for kube-apiserver, an admin
// client certificate and the service-account signing key.
//
// Keys come from node:crypto (native, fast); node-forge only builds and signs the certificates.
// This file is the only node-forge user of the control-plane harness.
import { generateKeyPair, randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import forge from 'node-forge';

export interface KeyPairPem {
  readonly publicKeyPem: string;
  readonly privateKeyPem: string;
}

export interface CertifiedKey {
  readonly certPem: string;
  readonly keyPem: string;
}

export interface ControlPlanePki {
  readonly ca: CertifiedKey;
  /** kube-apiserver serving certificate, SANs IP:127.0.0.1 and DNS:localhost. */
  readonly serving: CertifiedKey;
  /** Client certificate for CN=<adminUser>, O=system:masters. */
  readonly admin: CertifiedKey;
  /** RSA key that signs and verifies service-account tokens. */
  readonly serviceAccount: KeyPairPem;
}

export const ADMIN_USER = 'btpcerts-admin';
export const ADMIN_GROUP = 'system:masters';

const generateKeyPairAsync = promisify(generateKeyPair);

async function rsaKeyPair(): Promise<KeyPairPem> {
  // PKCS#1 for the private key: both node-forge and Go's tls.X509KeyPair read it.
  const { publicKey, privateKey } = await generateKeyPairAsync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
  });
  return { publicKeyPem: publicKey, privateKeyPem: privateKey };
}

function serialNumber(): string {
  // 16 random bytes with the top bit cleared: a positive DER INTEGER.
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0] ?? 0) & 0x7f;
  return bytes.toString('hex');
}

interface CertificateRequest {
  readonly subject: forge.pki.CertificateField[];
  readonly keys: KeyPairPem;
  readonly issuer: { readonly subject: forge.pki.CertificateField[]; readonly keys: KeyPairPem } | 'self';
  readonly extensions: object[];
  readonly validFrom: Date;
  readonly validTo: Date;
}

function signCertificate(request: CertificateRequest): string {
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(request.keys.publicKeyPem);
  cert.serialNumber = serialNumber();
  cert.validity.notBefore = request.validFrom;
  cert.validity.notAfter = request.validTo;
  cert.setSubject(request.subject);
  const issuer =
    request.issuer === 'self' ? { subject: request.subject, keys: request.keys } : request.issuer;
  cert.setIssuer(issuer.subject);
  cert.setExtensions([...request.extensions, { name: 'subjectKeyIdentifier' }]);
  cert.sign(forge.pki.privateKeyFromPem(issuer.keys.privateKeyPem), forge.md.sha256.create());
  return forge.pki.certificateToPem(cert);
}

export interface PkiOptions {
  /** Start of validity; certificates are back-dated by an hour to tolerate clock skew. */
  readonly now: Date;
  /** Lifetime of every certificate. */
  readonly validForMs?: number;
}

export async function generateControlPlanePki(options: PkiOptions): Promise<ControlPlanePki> {
  const validFrom = new Date(options.now.getTime() - 60 * 60 * 1000);
  const validTo = new Date(options.now.getTime() + (options.validForMs ?? 7 * 24 * 60 * 60 * 1000));
  const [caKeys, servingKeys, adminKeys, serviceAccount] = await Promise.all([
    rsaKeyPair(),
    rsaKeyPair(),
    rsaKeyPair(),
    rsaKeyPair(),
  ]);

  const caSubject = [{ name: 'commonName', value: 'btpcerts-test-control-plane-ca' }];
  const caCertPem = signCertificate({
    subject: caSubject,
    keys: caKeys,
    issuer: 'self',
    validFrom,
    validTo,
    extensions: [
      { name: 'basicConstraints', cA: true, critical: true },
      { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    ],
  });
  const issuer = { subject: caSubject, keys: caKeys };

  const servingCertPem = signCertificate({
    subject: [{ name: 'commonName', value: 'kube-apiserver' }],
    keys: servingKeys,
    issuer,
    validFrom,
    validTo,
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: [
          { type: 7, ip: '127.0.0.1' },
          { type: 2, value: 'localhost' },
        ],
      },
    ],
  });

  const adminCertPem = signCertificate({
    subject: [
      { name: 'commonName', value: ADMIN_USER },
      { name: 'organizationName', value: ADMIN_GROUP },
    ],
    keys: adminKeys,
    issuer,
    validFrom,
    validTo,
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
      { name: 'extKeyUsage', clientAuth: true },
    ],
  });

  return {
    ca: { certPem: caCertPem, keyPem: caKeys.privateKeyPem },
    serving: { certPem: servingCertPem, keyPem: servingKeys.privateKeyPem },
    admin: { certPem: adminCertPem, keyPem: adminKeys.privateKeyPem },
    serviceAccount,
  };
}
