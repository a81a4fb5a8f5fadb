// The operator's own Service Manager access credentials (btp.md section 4): an SM binding
// of plan `service-operator-access`, in the client-secret form and in the x509 form, plus
// the Kyma `sap-btp-manager` secret layout built from either.
import { randomBytes, randomUUID } from 'node:crypto';
import type { Clock } from './clock.ts';
import { clientSubject } from './issue-credentials.ts';
import type { ClientRegistry } from './oauth-clients.ts';
import type { Pki } from './pki.ts';
import { SM_SCOPE } from './service-manager.ts';

export const SM_XSAPPNAME = 'service-manager!b1';

interface SmCredentialsBase {
  readonly sm_url: string;
  readonly url: string;
  readonly certurl: string;
  readonly clientid: string;
  readonly xsappname: string;
}

export interface SmSecretCredentials extends SmCredentialsBase {
  readonly clientsecret: string;
}

export interface SmX509Credentials extends SmCredentialsBase {
  readonly 'credential-type': 'x509';
  /** Leaf, intermediate, root. */
  readonly certificate: string;
  /** PKCS#1 PEM. */
  readonly key: string;
}

export type SmCredentials = SmSecretCredentials | SmX509Credentials;

export interface SmEndpoints {
  readonly smUrl: string;
  readonly xsuaaUrl: string;
  readonly xsuaaCertUrl: string;
  readonly subaccountId: string;
}

function clientId(): string {
  return `sb-${randomUUID()}!b1|${SM_XSAPPNAME}`;
}

function base(endpoints: SmEndpoints, clientid: string): SmCredentialsBase {
  return {
    sm_url: endpoints.smUrl,
    url: endpoints.xsuaaUrl,
    certurl: endpoints.xsuaaCertUrl,
    clientid,
    xsappname: SM_XSAPPNAME,
  };
}

export function createSmSecretCredentials(
  endpoints: SmEndpoints,
  clients: ClientRegistry,
): SmSecretCredentials {
  const clientid = clientId();
  const clientsecret = `${randomBytes(8).toString('hex')}$${randomBytes(24).toString('base64url')}=`;
  clients.register({ kind: 'secret', clientId: clientid, secret: clientsecret, scopes: [SM_SCOPE] });
  return { ...base(endpoints, clientid), clientsecret };
}

export async function createSmX509Credentials(
  endpoints: SmEndpoints,
  clients: ClientRegistry,
  pki: Pki,
  clock: Clock,
  validitySeconds: number,
): Promise<SmX509Credentials> {
  const clientid = clientId();
  const notBefore = new Date(Math.floor(clock.now() / 1000) * 1000);
  const issued = await pki.issueClientCertificate({
    keyLength: 2048,
    subject: clientSubject(randomUUID(), endpoints.subaccountId),
    notBefore,
    notAfter: new Date(notBefore.getTime() + validitySeconds * 1000),
  });
  clients.register({
    kind: 'x509',
    clientId: clientid,
    fingerprints: new Set([issued.fingerprint256]),
    scopes: [SM_SCOPE],
  });
  return {
    ...base(endpoints, clientid),
    'credential-type': 'x509',
    certificate: issued.chain.join(''),
    key: issued.keyPair.privateKey.export({ type: 'pkcs1', format: 'pem' }).toString(),
  };
}

/**
 * The data of the Kyma BTP operator's access secret (`kyma-system/sap-btp-manager`):
 * `clientid`, `clientsecret` or `tls.crt` + `tls.key`, `sm_url`, `tokenurl`, and
 * `tokenurlsuffix` (token URL = tokenurl + suffix).
 */
export function kymaSecretData(credentials: SmCredentials): Record<string, string> {
  const common = {
    clientid: credentials.clientid,
    sm_url: credentials.sm_url,
    tokenurlsuffix: '/oauth/token',
  };
  if ('clientsecret' in credentials) {
    return { ...common, clientsecret: credentials.clientsecret, tokenurl: credentials.url };
  }
  return {
    ...common,
    'tls.crt': credentials.certificate,
    'tls.key': credentials.key,
    tokenurl: credentials.certurl,
  };
}
