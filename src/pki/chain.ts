// Putting the certificates of a credential in order: the leaf first, then its issuer, then that
// one's issuer, up to a self-signed root or to the first issuer that was left out.
//
// "Issued by" is OpenSSL's X509_check_issued (issuer name, authority key identifier, the issuer's
// key usage) and every link that is present must also carry a signature the issuer's key verifies.
// The set must be exactly one such chain: a certificate that belongs to no chain, or to another
// chain, is refused rather than dropped, because it means the credential is not what it claims.
// An issuer that is missing in the middle (leaf and root without the intermediate) therefore
// leaves two chains and is refused as well. Only the top may be missing: roots are often left out.

import type { ParsedCertificate } from './certificates.ts';
import { fail, ok, PkiErrorCode, type PkiResult } from './errors.ts';
import { isSelfSigned, oneLineName } from './info.ts';

export function orderChain(certificates: readonly ParsedCertificate[]): PkiResult<ParsedCertificate[]> {
  const unique = withoutDuplicates(certificates);
  const ends = unique.filter((candidate) => !unique.some((other) => isIssuedBy(other, candidate)));
  if (ends.length === 0) {
    return fail(
      PkiErrorCode.BrokenChain,
      'the certificates issue one another in a circle, so none of them is the leaf',
    );
  }
  if (ends.length > 1) return fail(PkiErrorCode.BrokenChain, separateChainsMessage(ends, unique));

  const [leaf] = ends as [ParsedCertificate];
  const chain = [leaf];
  for (let current = leaf; !isSelfSigned(current.x509); ) {
    const issuers = unique.filter((other) => !chain.includes(other) && isIssuedBy(current, other));
    const [firstIssuer] = issuers;
    if (firstIssuer === undefined) break;
    const verified = issuers.find((issuer) => current.x509.verify(issuer.x509.publicKey));
    if (verified === undefined) {
      return fail(
        PkiErrorCode.BrokenChain,
        `certificate '${current.name}' is not signed by '${firstIssuer.name}', although it names it as its issuer`,
      );
    }
    chain.push(verified);
    current = verified;
  }

  const stray = unique.find((certificate) => !chain.includes(certificate));
  if (stray !== undefined) {
    return fail(
      PkiErrorCode.BrokenChain,
      `certificate '${stray.name}' (block ${stray.block}) is not part of the chain of the leaf '${leaf.name}'`,
    );
  }
  return ok(chain);
}

/** Whether `child` names `parent` as its issuer (a certificate is not its own child here). */
function isIssuedBy(child: ParsedCertificate, parent: ParsedCertificate): boolean {
  return child !== parent && child.x509.checkIssued(parent.x509);
}

/**
 * The same certificate twice (a concatenation mistake) changes nothing about the chain, so the
 * later copies are dropped instead of failing.
 */
function withoutDuplicates(certificates: readonly ParsedCertificate[]): ParsedCertificate[] {
  const seen = new Set<string>();
  return certificates.filter((certificate) => {
    const fingerprint = certificate.x509.fingerprint256;
    if (seen.has(fingerprint)) return false;
    seen.add(fingerprint);
    return true;
  });
}

/**
 * Explains a set with several leaves: each chain by name and, where its top is not self-signed,
 * the issuer it names. That points at a foreign certificate mixed in as well as at an intermediate
 * left out (leaf and root only: "['CN=leaf'] (issued by 'CN=intermediate', not in the set)").
 */
function separateChainsMessage(
  ends: readonly ParsedCertificate[],
  all: readonly ParsedCertificate[],
): string {
  const chains = ends.map((end) => {
    const chain = [end];
    for (let current = end; !isSelfSigned(current.x509); ) {
      const issuer = all.find((other) => !chain.includes(other) && isIssuedBy(current, other));
      if (issuer === undefined) break;
      chain.push(issuer);
      current = issuer;
    }
    const top = chain[chain.length - 1] ?? end;
    const names = chain.map((certificate) => `'${certificate.name}'`).join(' -> ');
    return `[${names}]${isSelfSigned(top.x509) ? '' : missingIssuer(top, all)}`;
  });
  return `the certificates form ${ends.length} separate chains, expected one from the leaf up: ${chains.join(' and ')}`;
}

/**
 * What is above the top of an unfinished chain. A certificate of the issuer's name can be in the
 * set and still not be the issuer (other key identifier, or a key usage without keyCertSign).
 */
function missingIssuer(top: ParsedCertificate, all: readonly ParsedCertificate[]): string {
  const issuer = oneLineName(top.x509.issuer);
  const namesake = all.find((other) => other !== top && other.x509.subject === top.x509.issuer);
  return namesake === undefined
    ? ` (issued by '${issuer}', not in the set)`
    : ` (issued by '${issuer}'; the certificate of that name in block ${namesake.block} is not its issuer)`;
}
