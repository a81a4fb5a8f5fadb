// When to renew a certificate: pure time math, as cert-manager does it.
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
