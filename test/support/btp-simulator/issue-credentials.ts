// Issues the credentials of one new binding: a client secret, or an x509 certificate from
// the simulator's intermediate (with any pending credential defect applied) and its key.
import { randomBytes } from 'node:crypto';
import type { CredentialRequest } from './binding-parameters.ts';
import type { Clock } from './clock.ts';
import { presentChain, validityWindow } from './credential-faults.ts';
import { bindingCredentials, type ZoneFacts } from './credentials.ts';
import { DESTINATION_SCOPE } from './destination-service.ts';
import type { CredentialDefect, FaultBook } from './faults.ts';
import type { ServiceInstance } from './instances.ts';
import type { KeyPool } from './key-pool.ts';
import { notAfterFor } from './lifetime.ts';
import type { OAuthClient } from './oauth-clients.ts';
import type { Pki } from './pki.ts';
import { SM_SCOPE } from './service-manager.ts';
import type { DistinguishedName } from './x509.ts';

export interface IssuedCertificateFacts {
  readonly serialHex: string;
  readonly fingerprint256: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly defect: CredentialDefect | undefined;
}

export interface IssuedCredentials {
  readonly credentials: Record<string, unknown>;
  /** Registered with XSUAA when the binding comes into existence, removed when it goes. */
  readonly client: OAuthClient;
  readonly certificate: IssuedCertificateFacts | undefined;
}

export interface IssuerDeps {
  readonly pki: Pki;
  readonly keyPool: KeyPool;
  readonly faults: FaultBook;
  readonly clock: Clock;
  readonly zone: () => ZoneFacts;
  /** When set, every issued certificate lives this many seconds, whatever was requested. */
  readonly lifetimeOverrideSeconds: () => number | null;
  /** notBefore lies this many seconds before the issue time (notAfter does not move). */
  readonly notBeforeBackdateSeconds: () => number;
}

export const BINDING_SCOPES: readonly string[] = ['uaa.resource'];

export function scopesOf(offering: string): readonly string[] {
  if (offering === 'service-manager') return [SM_SCOPE];
  if (offering === 'destination') return [DESTINATION_SCOPE, ...BINDING_SCOPES];
  return BINDING_SCOPES;
}

export function clientSubject(commonName: string, subaccountId: string): DistinguishedName {
  return [
    ['C', 'DE'],
    ['O', 'SAP SE'],
    ['OU', 'SAP Cloud Platform Clients'],
    ['OU', subaccountId],
    ['L', 'simulator'],
    ['CN', commonName],
  ];
}

export class CredentialIssuer {
  readonly #deps: IssuerDeps;

  constructor(deps: IssuerDeps) {
    this.#deps = deps;
  }

  async issue(
    instance: ServiceInstance,
    clientid: string,
    commonName: string,
    request: CredentialRequest,
  ): Promise<IssuedCredentials> {
    const zone = this.#deps.zone();
    // Bindings of a service-manager instance (plans subaccount-admin, service-operator-access) are
    // Service Manager access credentials themselves: their client may call Service Manager.
    // Bindings of a destination instance may call the Destination service.
    const scopes = scopesOf(instance.offering);
    const subject = {
      clientid,
      xsappname: instance.xsappname,
      serviceInstanceId: instance.id,
      offering: instance.offering,
    };
    if (request.kind === 'secret') {
      const clientsecret = `${randomBytes(8).toString('hex')}$${randomBytes(24).toString('base64url')}=`;
      return {
        credentials: bindingCredentials(zone, subject, { kind: 'secret', clientsecret }),
        client: { kind: 'secret', clientId: clientid, secret: clientsecret, scopes },
        certificate: undefined,
      };
    }

    const defect = this.#deps.faults.takeCredentialDefect();
    const notBefore = new Date(Math.floor(this.#deps.clock.now() / 1000) * 1000);
    const override = this.#deps.lifetimeOverrideSeconds();
    const lifetimeMs =
      override === null
        ? notAfterFor(notBefore, request.validity).getTime() - notBefore.getTime()
        : override * 1000;
    const window = validityWindow(defect, notBefore, lifetimeMs);
    // Backdating tolerates clock skew; a certificate that is meant to be not yet valid stays so.
    const backdateMs = defect === 'notYetValid' ? 0 : this.#deps.notBeforeBackdateSeconds() * 1000;
    const issued = await this.#deps.pki.issueClientCertificate({
      keyLength: request.keyLength,
      subject: clientSubject(commonName, zone.subaccountid),
      notBefore: new Date(window.notBefore.getTime() - backdateMs),
      notAfter: window.notAfter,
      foreign: defect === 'foreignCa',
    });
    const keyPair =
      defect === 'keyMismatch' ? await this.#deps.keyPool.take(request.keyLength) : issued.keyPair;
    const material = {
      kind: 'x509',
      certificate: presentChain(defect, issued.chain),
      key: keyPair.privateKey.export({ type: 'pkcs1', format: 'pem' }).toString(),
    } as const;
    return {
      credentials: bindingCredentials(zone, subject, material),
      client: {
        kind: 'x509',
        clientId: clientid,
        fingerprints: new Set([issued.fingerprint256]),
        scopes,
      },
      certificate: {
        serialHex: issued.serialHex,
        fingerprint256: issued.fingerprint256,
        notBefore: issued.notBefore,
        notAfter: issued.notAfter,
        defect,
      },
    };
  }
}
