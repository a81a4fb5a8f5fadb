// Ready-made bindings of a Destination service instance (btp.md §6, §2), in the client-secret and
// the x509 form, as a test puts them into the Secret named by credentialsSecretRef: `uri` is the
// simulator's Destination service, `url`/`certurl` its XSUAA, and the client may call the service.
import { randomBytes, randomUUID } from 'node:crypto';
import type { Clock } from './clock.ts';
import { bindingCredentials, type ZoneFacts } from './credentials.ts';
import { clientSubject, scopesOf } from './issue-credentials.ts';
import type { ClientRegistry } from './oauth-clients.ts';
import type { Pki } from './pki.ts';

export interface DestinationCredentials {
  readonly uri: string;
  readonly url: string;
  readonly clientid: string;
  readonly xsappname: string;
  readonly serviceInstanceId: string;
  readonly [field: string]: unknown;
}

export interface DestinationSecretCredentials extends DestinationCredentials {
  readonly clientsecret: string;
}

export interface DestinationX509Credentials extends DestinationCredentials {
  readonly certurl: string;
  /** Leaf, intermediate, root. */
  readonly certificate: string;
  /** PKCS#1 PEM. */
  readonly key: string;
}

export interface DestinationInstanceFacts {
  readonly id: string;
  readonly xsappname: string;
}

function clientId(instance: DestinationInstanceFacts): string {
  return `sb-${randomUUID()}!b1|${instance.xsappname}`;
}

export async function createDestinationCredentials(
  zone: ZoneFacts,
  instance: DestinationInstanceFacts,
  clients: ClientRegistry,
  pki: Pki,
  clock: Clock,
): Promise<{ readonly secret: DestinationSecretCredentials; readonly x509: DestinationX509Credentials }> {
  const scopes = scopesOf('destination');
  const subject = (clientid: string) => ({
    clientid,
    xsappname: instance.xsappname,
    serviceInstanceId: instance.id,
    offering: 'destination',
  });

  const secretClient = clientId(instance);
  const clientsecret = `${randomBytes(8).toString('hex')}$${randomBytes(24).toString('base64url')}=`;
  clients.register({ kind: 'secret', clientId: secretClient, secret: clientsecret, scopes });

  const x509Client = clientId(instance);
  const notBefore = new Date(Math.floor(clock.now() / 1000) * 1000);
  const issued = await pki.issueClientCertificate({
    keyLength: 2048,
    subject: clientSubject(randomUUID(), zone.subaccountid),
    notBefore,
    notAfter: new Date(notBefore.getTime() + 30 * 86_400_000),
  });
  clients.register({
    kind: 'x509',
    clientId: x509Client,
    fingerprints: new Set([issued.fingerprint256]),
    scopes,
  });
  const key = issued.keyPair.privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
  return {
    secret: bindingCredentials(zone, subject(secretClient), {
      kind: 'secret',
      clientsecret,
    }) as DestinationSecretCredentials,
    x509: bindingCredentials(zone, subject(x509Client), {
      kind: 'x509',
      certificate: issued.chain.join(''),
      key,
    }) as DestinationX509Credentials,
  };
}
