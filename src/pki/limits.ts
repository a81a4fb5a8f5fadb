// How much PEM text the PKI module looks at. Every text comes from a tenant (a source Secret, a
// ConfigMap): it is measured before it is scanned, and refused with InputTooLarge above these caps.
import { formatBytes, utf8Bytes } from '../runtime/text.ts';
import { type PkiError, PkiErrorCode, type PkiResult } from './errors.ts';
import { scanPem } from './pem.ts';

/**
 * A certificate chain has at most this many certificates (BTP sends three); the cap also keeps
 * chain ordering, which compares every pair, cheap on hostile input.
 */
export const MAX_CERTIFICATES = 10;

/** A certificate chain or key text is refused above this size, before it is scanned. */
export const MAX_PEM_TEXT_BYTES = 64 * 1024;

/** A CA bundle (spec.token.caBundleRef): at most this size and this many certificates. */
export const MAX_CA_BUNDLE_BYTES = 256 * 1024;
export const MAX_CA_BUNDLE_CERTIFICATES = 100;

/** InputTooLarge for a text over `maxBytes` (`what`: "certificate", "key"); null if it fits. */
export function oversizedText(text: string, what: string, maxBytes = MAX_PEM_TEXT_BYTES): PkiError | null {
  const bytes = utf8Bytes(text);
  if (bytes <= maxBytes) return null;
  return {
    code: PkiErrorCode.InputTooLarge,
    message: `the ${what} text is ${bytes} bytes; at most ${formatBytes(maxBytes)} are accepted`,
  };
}

/**
 * The number of CERTIFICATE blocks of a CA bundle, in one linear scan after the size check:
 * InputTooLarge above the caps, InvalidCertificate when it holds none. The certificates themselves
 * are parsed by TLS when the bundle is used.
 */
export function caBundleCertificates(text: string): PkiResult<number> {
  const oversized = oversizedText(text, 'CA bundle', MAX_CA_BUNDLE_BYTES);
  if (oversized !== null) return { ok: false, error: oversized };
  let certificates = 0;
  for (const item of scanPem(text))
    if (item.kind === 'block' && item.label === 'CERTIFICATE') certificates += 1;
  if (certificates === 0)
    return {
      ok: false,
      error: { code: PkiErrorCode.InvalidCertificate, message: 'the CA bundle holds no PEM certificate' },
    };
  if (certificates > MAX_CA_BUNDLE_CERTIFICATES)
    return {
      ok: false,
      error: {
        code: PkiErrorCode.InputTooLarge,
        message: `the CA bundle holds ${certificates} certificates; at most ${MAX_CA_BUNDLE_CERTIFICATES} are accepted`,
      },
    };
  return { ok: true, value: certificates };
}
