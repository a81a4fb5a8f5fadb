// Output formats other than the tls.crt / tls.key / ca.crt strings the bundle already holds.

import type { ValidatedBundle } from './validate.ts';

/**
 * One PEM text with the private key first, then the leaf and its intermediates (tls.crt): what
 * HAProxy and cert-manager's additionalOutputFormats CombinedPEM consumers expect.
 */
export function combinedPem(bundle: Pick<ValidatedBundle, 'keyPem' | 'chainPem'>): string {
  return bundle.keyPem + bundle.chainPem;
}
