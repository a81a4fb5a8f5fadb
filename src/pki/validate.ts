// From the certificate and key of a credential to a bundle that a TLS Secret can be written from,
// or the first reason it cannot be. Pure: the clock is an argument.

import { type ParsedCertificate, parseCertificates } from './certificates.ts';
import { orderChain } from './chain.ts';
import { fail, ok, PkiErrorCode, type PkiResult } from './errors.ts';
import { type CertificateInfo, describeCertificate } from './info.ts';
import { type KeyFormat, type KeyType, parsePrivateKey, publicKeyMatches } from './key.ts';
import { encodePem } from './pem.ts';
import { checkValidity } from './validity.ts';

export type ValidatedBundle = {
  /** The certificate the key belongs to. */
  readonly leaf: CertificateInfo;
  /** Every certificate of the chain in order, leaf first; the root only if it was delivered. */
  readonly chain: readonly CertificateInfo[];
  /** tls.crt: the leaf, then every certificate above it that is not self-signed. */
  readonly chainPem: string;
  /** ca.crt: every certificate above the leaf (intermediates and root), in order; '' if none. */
  readonly caPem: string;
  /** tls.key: the key as delivered (same encoding), only normalized to LF and one trailing newline. */
  readonly keyPem: string;
  readonly keyType: KeyType;
  readonly keyFormat: KeyFormat;
};

export type CredentialPems = {
  readonly certificate: string;
  readonly key: string;
  readonly now: Date;
};

/**
 * Checks, in this order, each failing with its own code: every certificate block parses
 * (InvalidCertificate); the key is one unencrypted private key (InvalidKey); the certificates form
 * one chain whose links verify (BrokenChain); the key belongs to the leaf (KeyMismatch); every
 * certificate of the chain is valid at `now` (NotYetValid, Expired).
 */
export function parseCredentialPems({ certificate, key, now }: CredentialPems): PkiResult<ValidatedBundle> {
  if (!(now instanceof Date) || Number.isNaN(now.getTime())) {
    throw new TypeError('parseCredentialPems: now must be a valid Date');
  }
  const certificates = parseCertificates(certificate);
  if (!certificates.ok) return certificates;
  const parsedKey = parsePrivateKey(key);
  if (!parsedKey.ok) return parsedKey;
  const ordered = orderChain(certificates.value);
  if (!ordered.ok) return ordered;
  const chain = ordered.value;
  const [leaf] = chain as [ParsedCertificate, ...ParsedCertificate[]];
  const { keyObject, keyPem, keyType, keyFormat } = parsedKey.value;

  if (!publicKeyMatches(keyObject, leaf.x509)) {
    const certificateKeyType = leaf.x509.publicKey.asymmetricKeyType ?? 'unknown';
    const detail =
      certificateKeyType === keyType
        ? `the key's public half differs from the certificate's ${keyType} public key`
        : `the key is ${keyType}, the certificate's public key is ${certificateKeyType}`;
    return fail(
      PkiErrorCode.KeyMismatch,
      `the private key does not match the leaf certificate '${leaf.name}': ${detail}`,
    );
  }

  const invalid = checkValidity(chain, now);
  if (invalid !== null) return { ok: false, error: invalid };

  const leafInfo = describeCertificate(leaf.x509);
  const above = chain.slice(1).map((each) => ({
    info: describeCertificate(each.x509),
    pem: encodePem('CERTIFICATE', each.x509.raw),
  }));
  const leafPem = encodePem('CERTIFICATE', leaf.x509.raw);
  return ok({
    leaf: leafInfo,
    chain: [leafInfo, ...above.map(({ info }) => info)],
    chainPem: leafPem + above.flatMap(({ info, pem }) => (info.selfSigned ? [] : [pem])).join(''),
    caPem: above.map(({ pem }) => pem).join(''),
    keyPem,
    keyType,
    keyFormat,
  });
}
