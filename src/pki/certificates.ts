// The certificate text of a credential: one or more PEM CERTIFICATE blocks, each a DER X.509
// certificate. Parsing is node:crypto's (OpenSSL's), which reads RSA, EC and EdDSA certificates
// alike.

import { X509Certificate } from 'node:crypto';
import { fail, ok, PkiErrorCode, type PkiResult } from './errors.ts';
import { type CertificateInfo, certificateName, describeCertificate } from './info.ts';
import { MAX_CERTIFICATES, oversizedText } from './limits.ts';
import { describeLabel, type PemItem, scanPem } from './pem.ts';

export type ParsedCertificate = {
  readonly x509: X509Certificate;
  /** 1-based position among the PEM blocks of the input, for messages. */
  readonly block: number;
  /** Subject on one line (or the serial number if the subject is empty), for messages. */
  readonly name: string;
};

export function parseCertificates(text: string): PkiResult<ParsedCertificate[]> {
  if (typeof text !== 'string') return fail(PkiErrorCode.InvalidCertificate, 'the certificate is not text');
  const oversized = oversizedText(text, 'certificate');
  if (oversized !== null) return { ok: false, error: oversized };
  const items = scanPem(text);
  if (items.length === 0) {
    return fail(
      PkiErrorCode.InvalidCertificate,
      'the certificate text holds no PEM block; expected one or more PEM CERTIFICATE blocks, leaf first',
    );
  }
  if (items.length > MAX_CERTIFICATES) {
    return fail(
      PkiErrorCode.InputTooLarge,
      `the certificate text holds ${items.length} PEM blocks; a chain of at most ${MAX_CERTIFICATES} certificates is accepted`,
    );
  }
  const parsed: ParsedCertificate[] = [];
  for (const [index, item] of items.entries()) {
    const result = parseCertificateItem(item, `certificate block ${index + 1} of ${items.length}`);
    if (!result.ok) return result;
    parsed.push({ x509: result.value, block: index + 1, name: certificateName(result.value) });
  }
  return ok(parsed);
}

/** `where` names the block in messages, e.g. "certificate block 2 of 3". */
function parseCertificateItem(item: PemItem, where: string): PkiResult<X509Certificate> {
  switch (item.kind) {
    case 'unterminated':
      return fail(PkiErrorCode.InvalidCertificate, `${where} has no END line (truncated?)`);
    case 'unopened':
      return fail(PkiErrorCode.InvalidCertificate, `${where} has an END line but no BEGIN line (truncated?)`);
    case 'mismatched':
      return fail(
        PkiErrorCode.InvalidCertificate,
        `${where} ends with a different label than it begins with`,
      );
    case 'block':
      break;
  }
  if (item.label !== 'CERTIFICATE') {
    return fail(
      PkiErrorCode.InvalidCertificate,
      `${where} is ${describeLabel(item.label)}, not a certificate; the certificate text must hold only certificates`,
    );
  }
  if (item.der === null) {
    return fail(PkiErrorCode.InvalidCertificate, `${where} is not valid base64 (garbled or truncated)`);
  }
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(item.der);
  } catch {
    return fail(
      PkiErrorCode.InvalidCertificate,
      `${where} does not parse as an X.509 certificate (garbled or truncated)`,
    );
  }
  if (cert.raw.length !== item.der.length) {
    return fail(PkiErrorCode.InvalidCertificate, `${where} has bytes after the end of the certificate`);
  }
  return ok(cert);
}

/**
 * The facts about the first certificate of a PEM text (for a tls.crt, the leaf). Only that block
 * is looked at; parseCredentialPems validates a whole chain.
 */
export function certificateInfo(pem: string): PkiResult<CertificateInfo> {
  if (typeof pem !== 'string') return fail(PkiErrorCode.InvalidCertificate, 'the certificate is not text');
  const oversized = oversizedText(pem, 'certificate');
  if (oversized !== null) return { ok: false, error: oversized };
  const first = scanPem(pem)[0];
  if (first === undefined) {
    return fail(PkiErrorCode.InvalidCertificate, 'the certificate text holds no PEM block');
  }
  const result = parseCertificateItem(first, 'the first PEM block');
  return result.ok ? ok(describeCertificate(result.value)) : result;
}
