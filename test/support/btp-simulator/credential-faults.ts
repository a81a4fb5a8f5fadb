// How each credential defect of the fault catalogue bends an issued x509 credential.
// Pure functions: the issuer asks for the validity window and the chain text to hand out.
import type { CredentialDefect } from './faults.ts';
import { pemEncode } from './pem.ts';

const SHIFT_MS = 3_600_000;

export interface ValidityWindow {
  readonly notBefore: Date;
  readonly notAfter: Date;
}

/** expired: ended an hour ago; notYetValid: starts in an hour; both keep the lifetime. */
export function validityWindow(
  defect: CredentialDefect | undefined,
  notBefore: Date,
  lifetimeMs: number,
): ValidityWindow {
  const start = notBefore.getTime();
  switch (defect) {
    case 'expired':
      return { notBefore: new Date(start - SHIFT_MS - lifetimeMs), notAfter: new Date(start - SHIFT_MS) };
    case 'notYetValid':
      return { notBefore: new Date(start + SHIFT_MS), notAfter: new Date(start + SHIFT_MS + lifetimeMs) };
    default:
      return { notBefore, notAfter: new Date(start + lifetimeMs) };
  }
}

function derOf(pem: string): Buffer {
  return Buffer.from(pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');
}

/**
 * The `certificate` field for a chain [leaf, intermediate, root]:
 *   malformedPem              the leaf block loses its END line and gets non-base64 characters
 *   truncatedCertificate      well-formed PEM whose leaf DER is cut in half
 *   chainWrongOrder           intermediate, leaf, root
 *   chainMissingIntermediate  leaf, root
 *   otherwise                 leaf, intermediate, root
 */
export function presentChain(
  defect: CredentialDefect | undefined,
  chain: readonly [string, string, string],
): string {
  const [leaf, intermediate, root] = chain;
  switch (defect) {
    case 'malformedPem': {
      const [begin = '', ...body] = leaf.trimEnd().split('\n').slice(0, -1);
      const middle = Math.floor(body.length / 2);
      body.splice(middle, 1, `${body[middle]?.slice(0, 20) ?? ''}!!not*base64!!`);
      return `${[begin, ...body].join('\n')}\n${intermediate}${root}`;
    }
    case 'truncatedCertificate': {
      const der = derOf(leaf);
      return pemEncode('CERTIFICATE', der.subarray(0, Math.floor(der.length / 2))) + intermediate + root;
    }
    case 'chainWrongOrder':
      return intermediate + leaf + root;
    case 'chainMissingIntermediate':
      return leaf + root;
    default:
      return leaf + intermediate + root;
  }
}
