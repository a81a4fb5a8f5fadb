// What status, events and messages say about a certificate: plain data, no parsed objects.

import type { X509Certificate } from 'node:crypto';

export type CertificateInfo = {
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** Uppercase hex without colons or leading zeros, as OpenSSL's BN_bn2hex prints it. */
  readonly serialNumber: string;
  /** One line, most specific first, RFC 4514 style: 'CN=x, OU=y, O=SAP SE, C=DE'. */
  readonly subject: string;
  readonly issuer: string;
  /** Uppercase hex with colons, as `openssl x509 -fingerprint -sha256` prints it. */
  readonly sha256Fingerprint: string;
  readonly selfSigned: boolean;
};

/**
 * Node prints a name one RDN a line, least specific first, with RFC 2253 escaping of the values
 * ("OU=a\, b") and " + " between the attributes of a multi-valued RDN; RFC 4514 wants the reverse
 * order on one line.
 */
export function oneLineName(nodeName: string): string {
  return nodeName
    .split('\n')
    .filter((rdn) => rdn !== '')
    .reverse()
    .join(', ');
}

export function isSelfSigned(cert: X509Certificate): boolean {
  return cert.checkIssued(cert) && cert.verify(cert.publicKey);
}

/** How messages name a certificate: its subject, or its serial number when the subject is empty. */
export function certificateName(cert: X509Certificate): string {
  const subject = oneLineName(cert.subject);
  return subject === '' ? `(empty subject, serial ${cert.serialNumber})` : subject;
}

export function describeCertificate(cert: X509Certificate): CertificateInfo {
  return {
    notBefore: new Date(cert.validFromDate.getTime()),
    notAfter: new Date(cert.validToDate.getTime()),
    serialNumber: cert.serialNumber.toUpperCase(),
    subject: oneLineName(cert.subject),
    issuer: oneLineName(cert.issuer),
    sha256Fingerprint: cert.fingerprint256.toUpperCase(),
    selfSigned: isSelfSigned(cert),
  };
}
