// When to renew a certificate: pure time math, as cert-manager does it.
import type { BTPCertificate } from '../api/types.ts';
import { jitteredRenewal } from './bindings.ts';
import { parseGoDuration } from './duration.ts';

export type RenewalPolicy = { readonly renewBefore?: string; readonly renewBeforePercentage?: number };

/**
 * notAfter minus renewBefore, truncated to whole seconds. The default renews at 2/3 of the issued
 * lifetime; a renewBefore at least as long as the lifetime falls back to that default.
 */
export function renewalTime(notBefore: Date, notAfter: Date, policy: RenewalPolicy): Date {
  const lifetime = notAfter.getTime() - notBefore.getTime();
  const byDefault = lifetime / 3;
  let before = byDefault;
  if (policy.renewBeforePercentage !== undefined) {
    before = (lifetime * policy.renewBeforePercentage) / 100;
  } else if (policy.renewBefore !== undefined) {
    const parsed = parseGoDuration(policy.renewBefore);
    if (parsed !== undefined && parsed > 0 && parsed < lifetime) before = parsed;
  }
  const at = notAfter.getTime() - before;
  return new Date(Math.floor(at / 1000) * 1000);
}

/**
 * When a BTPCertificate's credentials (valid from notBefore to notAfter) are to be renewed: its
 * renewBefore policy, and for bindings the operator issues itself a per-resource jitter, so that
 * certificates issued together do not all renew at the same second. The one place this is computed.
 */
export function renewalAt(cert: BTPCertificate, notBefore: Date, notAfter: Date, jittered: boolean): Date {
  const plain = renewalTime(notBefore, notAfter, {
    ...(cert.spec.renewBefore !== undefined ? { renewBefore: cert.spec.renewBefore } : {}),
    ...(cert.spec.renewBeforePercentage !== undefined
      ? { renewBeforePercentage: cert.spec.renewBeforePercentage }
      : {}),
  });
  return jittered ? jitteredRenewal(plain, notBefore, notAfter, cert.metadata.uid) : plain;
}
