// The BTP clients the controller uses, one per access credential: the Service Manager's (the
// ServiceManagerPort of src/sources) and the Destination service's (the DestinationPort), each kind
// sharing one BtpHttp (connection pools) and one TokenCache.
import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import type { Clock } from '../runtime/clock.ts';
import type { DestinationAccess, DestinationFactory, DestinationPort } from '../sources/destination-port.ts';
import type { ServiceManagerFactory, ServiceManagerPort, SmBinding } from '../sources/service-manager.ts';
import type { SmAccess } from '../sources/service-manager-access.ts';
import type { AllowedHosts } from './allowed-hosts.ts';
import { DestinationClient } from './destination.ts';
import { BtpHttp, type RequestObserver } from './http.ts';
import { equalsQuery } from './query.ts';
import type { SmRateLimit } from './rate-limit.ts';
import { ServiceManagerClient, type SmCredential } from './service-manager.ts';
import type { SmBinding as ClientBinding } from './sm-resources.ts';
import { TokenCache } from './token-cache.ts';
import { TokenClient } from './token-client.ts';

/** How long one reconcile waits for an asynchronous binding creation; a stuck one is left behind. */
export const CREATE_DEADLINE_MS = 60_000;

export type ServiceManagerClients = {
  readonly factory: ServiceManagerFactory;
  /** Closes a client whose credential is no longer used, and forgets it. */
  readonly release: (port: ServiceManagerPort) => Promise<void>;
  readonly close: () => Promise<void>;
};

type ClientOptions = {
  readonly clock: Clock;
  readonly logger: Logger;
  readonly extraCaPem?: string | undefined;
  readonly allowedHosts: AllowedHosts;
  /** Told of every request (metrics). */
  readonly onRequest?: RequestObserver;
};

/**
 * Ports keyed by their credential: a replaced credential gets a new client, and the old one is
 * closed by the controller once no BTPCertificate uses it (`release`).
 */
function portsByCredential<A, P extends { close(): Promise<void> }>(
  o: ClientOptions,
  make: (access: A, id: string, http: BtpHttp, tokens: TokenCache) => P,
  fingerprintOf: (access: A) => string,
) {
  const http = new BtpHttp({
    clock: o.clock,
    allowedHosts: o.allowedHosts,
    ...(o.onRequest ? { onRequest: o.onRequest } : {}),
    ...(o.extraCaPem ? { caPem: o.extraCaPem } : {}),
  });
  const tokens = new TokenCache({ client: new TokenClient({ http, clock: o.clock }), clock: o.clock });
  const clients = new Map<string, P>();
  return {
    factory: (access: A): P => {
      const id = fingerprintOf(access);
      let port = clients.get(id);
      if (port === undefined) {
        port = make(access, id, http, tokens);
        clients.set(id, port);
      }
      return port;
    },
    release: async (port: P): Promise<void> => {
      for (const [id, p] of clients) if (p === port) clients.delete(id);
      await port.close();
    },
    close: () => http.closeAll(),
  };
}

export function serviceManagerClients(
  o: ClientOptions & {
    /** Per SM caller (access credential), every request; SM_RATE_LIMIT when absent. */
    readonly rateLimit?: SmRateLimit;
  },
): ServiceManagerClients {
  return portsByCredential<SmAccess, ServiceManagerPort>(
    o,
    (access, id, http, tokens) =>
      adapt(
        new ServiceManagerClient(credentialOf(access), {
          http,
          tokens,
          clock: o.clock,
          credentialId: `sm:${id.slice(0, 16)}`,
          ...(o.rateLimit ? { rateLimit: o.rateLimit } : {}),
        }),
      ),
    (a) => fingerprint(a.smUrl, a),
  );
}

export type DestinationClients = {
  readonly factory: DestinationFactory;
  /** Closes a client whose credential is no longer used, and forgets it. */
  readonly release: (port: DestinationPort) => Promise<void>;
  readonly close: () => Promise<void>;
};

/** The Destination service clients (DestinationPort), one per access credential. */
export function destinationClients(o: ClientOptions): DestinationClients {
  return portsByCredential<DestinationAccess, DestinationPort>(
    o,
    (access, id, http, tokens) => {
      const base = { serviceUrl: access.serviceUrl, tokenUrl: access.tokenUrl, clientId: access.clientId };
      const client = new DestinationClient(
        access.auth.kind === 'secret'
          ? { ...base, clientSecret: access.auth.clientSecret }
          : { ...base, certificate: access.auth.certificate, key: access.auth.key },
        { http, tokens, clock: o.clock, credentialId: `destination:${id.slice(0, 16)}` },
      );
      return {
        findDestination: (name, level) => client.findDestination(name, level),
        getCertificate: (name, level) => client.getCertificate(name, level),
        createCertificate: (request) => client.createCertificate(request),
        deleteCertificate: (name, level) => client.deleteCertificate(name, level),
        close: () => client.close(),
      };
    },
    (a) => fingerprint(a.serviceUrl, a),
  );
}

/** Identifies a credential without keeping its secret part in a map key in clear. */
function fingerprint(
  apiUrl: string,
  a: { readonly tokenUrl: string; readonly clientId: string; readonly auth: SmAccess['auth'] },
): string {
  const h = createHash('sha256').update(`${apiUrl}\0${a.tokenUrl}\0${a.clientId}\0`);
  if (a.auth.kind === 'secret') h.update(a.auth.clientSecret);
  else h.update(a.auth.certificate).update(a.auth.key);
  return h.digest('hex');
}

function credentialOf(a: SmAccess): SmCredential {
  const base = { smUrl: a.smUrl, tokenUrl: a.tokenUrl, clientId: a.clientId };
  return a.auth.kind === 'secret'
    ? { ...base, clientSecret: a.auth.clientSecret }
    : { ...base, certificate: a.auth.certificate, key: a.auth.key };
}

const toPort = (b: ClientBinding): SmBinding => ({
  id: b.id,
  name: b.name,
  instanceId: b.serviceInstanceId,
  credentials: b.credentials,
  labels: b.labels,
  createdAt: b.createdAt,
  ready: b.ready,
});

/** The port on the client; the client keeps the caller's rate limits (every request waits its turn). */
function adapt(client: ServiceManagerClient): ServiceManagerPort {
  return {
    findInstanceId: async (name) => (await client.findInstanceByName(name))?.id,
    listBindingsByLabel: async (key, value) =>
      (await client.listBindings({ labelQuery: equalsQuery({ [key]: value }) })).map(toPort),
    createBinding: async (r) =>
      toPort(
        await client.createBinding(
          { name: r.name, serviceInstanceId: r.instanceId, parameters: r.parameters, labels: r.labels },
          { deadlineMs: CREATE_DEADLINE_MS },
        ),
      ),
    getBinding: async (id) => {
      const b = await client.getBinding(id);
      return b === undefined ? undefined : toPort(b);
    },
    deleteBinding: (id) => client.deleteBinding(id),
    close: () => client.close(),
  };
}
