// Service Manager access credentials, from a Secret in either layout:
// - the Kyma BTP operator's: clientid, clientsecret or tls.crt+tls.key, sm_url, tokenurl,
//   tokenurlsuffix (default /oauth/token);
// - the fields of an SM binding: sm_url, url/certurl, clientid, clientsecret or certificate+key.
import { trimTrailingSlashes } from '../runtime/text.ts';
import { oversizedSecretFields, type SourceFailure } from './credentials.ts';

export type SmAccess = {
  readonly smUrl: string;
  readonly tokenUrl: string;
  readonly clientId: string;
  readonly auth:
    | { readonly kind: 'secret'; readonly clientSecret: string }
    | { readonly kind: 'x509'; readonly certificate: string; readonly key: string };
};

export function smAccessFromSecret(
  data: Readonly<Record<string, string>>,
  secretName: string,
): { readonly ok: true; readonly access: SmAccess } | SourceFailure {
  const fail = (what: string): SourceFailure => ({
    ok: false,
    reason: 'InvalidSMCredentials',
    message: `Secret ${secretName} ${what} (keys present: ${Object.keys(data).sort().join(', ') || 'none'})`,
  });
  const oversized = oversizedSecretFields(data, secretName, ['sm_url', 'tokenurl', 'certurl', 'url']);
  if (oversized !== undefined) return oversized;
  const smUrl = data.sm_url;
  const clientId = data.clientid;
  if (!smUrl) return fail('has no sm_url');
  if (!clientId) return fail('has no clientid');
  const certificate = data['tls.crt'] ?? data.certificate;
  const key = data['tls.key'] ?? data.key;
  const clientSecret = data.clientsecret;
  let auth: SmAccess['auth'];
  if (certificate && key) auth = { kind: 'x509', certificate, key };
  else if (clientSecret) auth = { kind: 'secret', clientSecret };
  else return fail('has neither clientsecret nor a certificate and key (tls.crt+tls.key or certificate+key)');

  let tokenUrl: string;
  if (data.tokenurl) {
    tokenUrl = trimTrailingSlashes(data.tokenurl) + (data.tokenurlsuffix ?? '/oauth/token');
  } else {
    const base = auth.kind === 'x509' ? data.certurl : data.url;
    if (!base)
      return fail(auth.kind === 'x509' ? 'has no tokenurl and no certurl' : 'has no tokenurl and no url');
    tokenUrl = `${trimTrailingSlashes(base)}/oauth/token`;
  }
  for (const [name, url] of [
    ['sm_url', smUrl],
    ['token URL', tokenUrl],
  ] as const) {
    if (!/^https:\/\/[^\s/]+/.test(url)) return fail(`has a ${name} that is not an https URL`);
  }
  return { ok: true, access: { smUrl: trimTrailingSlashes(smUrl), tokenUrl, clientId, auth } };
}
