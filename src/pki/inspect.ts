// What a person needs to see of a certificate and key pair (kubectl btpcert inspect secret): every
// certificate as stored, the order the chain should have, whether the key belongs to the leaf, and
// the verdict of the same validation the operator applies before it writes a Secret. Facts only:
// no PEM text and nothing of the key but its type and encoding. Pure: the clock is an argument.

import { parseCertificates } from './certificates.ts';
import { orderChain } from './chain.ts';
import type { PkiError } from './errors.ts';
import { type CertificateInfo, describeCertificate } from './info.ts';
import { type KeyFormat, type KeyType, parsePrivateKey, publicKeyMatches } from './key.ts';
import { parseCredentialPems } from './validate.ts';

export type CertificateValidity = 'valid' | 'expired' | 'notYetValid';

export type InspectedCertificate = CertificateInfo & {
  /** 1-based position of its PEM block in the text. */
  readonly block: number;
  readonly validity: CertificateValidity;
};

export type PairInspection = {
  /** Every certificate as stored; empty when a block does not parse (see `verdict`). */
  readonly certificates: readonly InspectedCertificate[];
  /** The blocks in chain order, leaf first; undefined when they do not form one chain. */
  readonly chainOrder: readonly number[] | undefined;
  /** The key's type and encoding, or undefined when it does not parse. */
  readonly key: { readonly type: KeyType; readonly format: KeyFormat } | undefined;
  /** Whether the key belongs to the leaf; undefined when either side does not parse. */
  readonly keyMatchesLeaf: boolean | undefined;
  /** The operator's validation of the pair: null when it would write it, else the first failure. */
  readonly verdict: PkiError | null;
};

export function inspectPair(certificate: string, key: string, now: Date): PairInspection {
  const parsed = parseCertificates(certificate);
  const parsedKey = parsePrivateKey(key);
  const at = now.getTime();
  const certificates = parsed.ok
    ? parsed.value.map((each) => {
        const info = describeCertificate(each.x509);
        const validity: CertificateValidity =
          at < info.notBefore.getTime() ? 'notYetValid' : at > info.notAfter.getTime() ? 'expired' : 'valid';
        return { ...info, block: each.block, validity };
      })
    : [];
  const ordered = parsed.ok ? orderChain(parsed.value) : undefined;
  const chainOrder = ordered?.ok ? ordered.value.map((each) => each.block) : undefined;
  // Without one chain, the first block stands for the leaf (as a tls.crt has it).
  const leaf = ordered?.ok ? ordered.value[0] : parsed.ok ? parsed.value[0] : undefined;
  const verdict = parseCredentialPems({ certificate, key, now });
  return {
    certificates,
    chainOrder,
    key: parsedKey.ok ? { type: parsedKey.value.keyType, format: parsedKey.value.keyFormat } : undefined,
    keyMatchesLeaf:
      parsedKey.ok && leaf !== undefined ? publicKeyMatches(parsedKey.value.keyObject, leaf.x509) : undefined,
    verdict: verdict.ok ? null : verdict.error,
  };
}
