import type { V1Secret } from '@kubernetes/client-node';

/**
 * A Secret's data as text (base64 decoded), stringData included; keys named in `keepEncoded`
 * stay base64 (binary values such as a keystore).
 */
export function decodeSecretData(
  secret: V1Secret,
  keepEncoded: readonly string[] = [],
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(secret.data ?? {})) {
    out[k] = keepEncoded.includes(k) ? v : Buffer.from(v, 'base64').toString('utf8');
  }
  for (const [k, v] of Object.entries(secret.stringData ?? {})) out[k] = v;
  return out;
}
