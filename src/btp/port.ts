// The Service Manager clients the controller uses (the ServiceManagerPort of src/sources), one per
// access credential, sharing one BtpHttp (connection pools) and one TokenCache.
import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import type { Clock } from '../runtime/clock.ts';
import type { ServiceManagerFactory, ServiceManagerPort, SmBinding } from '../sources/service-manager.ts';
import type { SmAccess } from '../sources/service-manager-access.ts';
import type { AllowedHosts } from './allowed-hosts.ts';
import { BtpHttp, type RequestObserver } from './http.ts';
import { equalsQuery } from './query.ts';
import { type RateLimit, SM_RATE_LIMIT, TokenBucket } from './rate-limit.ts';
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

export function serviceManagerClients(o: {
  readonly clock: Clock;
  readonly logger: Logger;
  readonly extraCaPem?: string | undefined;
  readonly allowedHosts: AllowedHosts;
  /** Per SM caller (access credential). */
  readonly rateLimit?: RateLimit;
  /** Told of every request (metrics). */
  readonly onRequest?: RequestObserver;
}): ServiceManagerClients {
  const http = new BtpHttp({
    clock: o.clock,
    allowedHosts: o.allowedHosts,
    ...(o.onRequest ? { onRequest: o.onRequest } : {}),
    ...(o.extraCaPem ? { caPem: o.extraCaPem } : {}),
  });
  const tokens = new TokenCache({ client: new TokenClient({ http, clock: o.clock }), clock: o.clock });
  const clients = new Map<string, ServiceManagerPort>();

  const factory: ServiceManagerFactory = (access) => {
    const id = fingerprint(access);
    let port = clients.get(id);
    if (port === undefined) {
      // Keyed by the credential: a replaced credential gets a new client, and the old one is closed
      // by the controller once no BTPCertificate uses it (see release below).
      const client = new ServiceManagerClient(credentialOf(access), {
        http,
        tokens,
        clock: o.clock,
        credentialId: `sm:${id.slice(0, 16)}`,
      });
      port = adapt(client, new TokenBucket(o.clock, o.rateLimit ?? SM_RATE_LIMIT));
      clients.set(id, port);
    }
    return port;
  };
  return {
    factory,
    release: async (port) => {
      for (const [id, p] of clients) if (p === port) clients.delete(id);
      await port.close();
    },
    close: () => http.closeAll(),
  };
}

/** Identifies a credential without keeping its secret part in a map key in clear. */
function fingerprint(a: SmAccess): string {
  const h = createHash('sha256').update(`${a.smUrl}\0${a.tokenUrl}\0${a.clientId}\0`);
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

/** Every SM request of one caller waits for its bucket first. */
function adapt(client: ServiceManagerClient, bucket: TokenBucket): ServiceManagerPort {
  const limited = async <T>(call: () => Promise<T>): Promise<T> => {
    await bucket.take();
    return call();
  };
  return {
    findInstanceId: async (name) => (await limited(() => client.findInstanceByName(name)))?.id,
    listBindingsByLabel: async (key, value) =>
      (await limited(() => client.listBindings({ labelQuery: equalsQuery({ [key]: value }) }))).map(toPort),
    createBinding: async (r) =>
      toPort(
        await limited(() =>
          client.createBinding(
            { name: r.name, serviceInstanceId: r.instanceId, parameters: r.parameters, labels: r.labels },
            { deadlineMs: CREATE_DEADLINE_MS },
          ),
        ),
      ),
    getBinding: async (id) => {
      const b = await limited(() => client.getBinding(id));
      return b === undefined ? undefined : toPort(b);
    },
    deleteBinding: (id) => limited(() => client.deleteBinding(id)),
    close: () => client.close(),
  };
}
