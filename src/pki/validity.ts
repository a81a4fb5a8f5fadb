// Whether each certificate of an ordered chain is within its validity window at `now`. The window
// includes both ends (RFC 5280 4.1.2.5: "from notBefore through notAfter, inclusive"), so a
// certificate is still valid at the very second of its notAfter and expired a millisecond later.
// The leaf is checked first, then its issuers in order: a broken leaf is the more useful message.

import type { ParsedCertificate } from './certificates.ts';
import { type PkiError, PkiErrorCode } from './errors.ts';
import { isSelfSigned } from './info.ts';

export function checkValidity(chain: readonly ParsedCertificate[], now: Date): PkiError | null {
  const at = now.getTime();
  for (const [index, certificate] of chain.entries()) {
    const role = index === 0 ? 'leaf' : isSelfSigned(certificate.x509) ? 'root' : 'intermediate';
    const notBefore = certificate.x509.validFromDate;
    const notAfter = certificate.x509.validToDate;
    if (at < notBefore.getTime()) {
      return {
        code: PkiErrorCode.NotYetValid,
        message: `${role} certificate '${certificate.name}' is not valid before ${instant(notBefore)}`,
      };
    }
    if (at > notAfter.getTime()) {
      return {
        code: PkiErrorCode.Expired,
        message: `${role} certificate '${certificate.name}' expired at ${instant(notAfter)}`,
      };
    }
  }
  return null;
}

/** ISO 8601 in UTC, to the millisecond only when there is one. */
function instant(date: Date): string {
  return date.toISOString().replace('.000Z', 'Z');
}
