// Composition: the BTP simulator = PKI + XSUAA (url, certurl) + Service Manager + admin API,
// all on 127.0.0.1 over real TLS. `startSimulator` is the one entry point for tests, the
// demo and the benchmark; cli.ts runs it standalone.
import { randomUUID } from 'node:crypto';
import type { RequestListener } from 'node:http';
import { pino } from 'pino';
import { type AdminTarget, createAdmin, type Settings, type SettingsPatch } from './admin.ts';
import { type Binding, BindingStore } from './bindings.ts';
import { resolveConfig, type SimulatorConfig } from './config.ts';
import { type CounterSnapshot, Counters, type ReceivedBody } from './counters.ts';
import type { ZoneFacts } from './credentials.ts';
import {
  createDestinationCredentials,
  type DestinationSecretCredentials,
  type DestinationX509Credentials,
} from './destination-credentials.ts';
import { createDestinationService } from './destination-service.ts';
import {
  DestinationStore,
  destinationClients,
  type Owner,
  type SeededCertificate,
  type SeedRequest,
  type StoredCertificateSummary,
} from './destination-store.ts';
import { type ActiveFault, type CredentialDefect, type Fault, FaultBook } from './faults.ts';
import { Catalogue, type InstanceSpec, type ServiceInstance } from './instances.ts';
import { CredentialIssuer } from './issue-credentials.ts';
import { generateRsaKeyPair, KeyPool, type KeyPoolStats } from './key-pool.ts';
import { certificateFingerprints } from './keystores.ts';
import { type Listener, listenHttp, listenHttps } from './listen.ts';
import { ClientRegistry } from './oauth-clients.ts';
import { Pki } from './pki.ts';
import type { ServerName } from './routes.ts';
import { createServiceManager } from './service-manager.ts';
import {
  createSmSecretCredentials,
  createSmX509Credentials,
  type SmSecretCredentials,
  type SmX509Credentials,
} from './sm-credentials.ts';
import { TokenSigner } from './tokens.ts';
import { createXsuaa, OTHER_XSUAA_ROUTE_NAMES } from './xsuaa.ts';

export interface SimulatorCounters extends CounterSnapshot {
  /** Existing bindings per service instance id. */
  readonly liveBindingsByInstance: Readonly<Record<string, number>>;
}

/** A binding as the admin view shows it: no key material. */
export interface BindingSummary {
  readonly id: string;
  readonly name: string;
  readonly instanceId: string;
  readonly clientid: string;
  readonly phase: 'ready' | 'deleting';
  readonly labels: Readonly<Record<string, readonly string[]>>;
  readonly createdAt: string;
  readonly credentialType: 'x509' | 'binding-secret';
  readonly certificate?: {
    readonly serialHex: string;
    readonly fingerprint256: string;
    readonly notBefore: string;
    readonly notAfter: string;
    readonly defect: CredentialDefect | null;
  };
}

/** The tenant a destination's tokenServiceURL names: its own XSUAA and its own CA. */
export interface OtherTenant {
  readonly url: string;
  /** mTLS: only certificates of the other tenant's CA get through the handshake. */
  readonly certurl: string;
  /** The other tenant's root, which also issues the Destination service's certificates. */
  readonly caPem: string;
}

export interface SimulatorState {
  readonly smUrl: string;
  readonly xsuaaUrl: string;
  readonly xsuaaCertUrl: string;
  readonly adminUrl: string;
  /** The Destination service (`uri` of destination bindings). */
  readonly destinationUrl: string;
  readonly otherTenant: OtherTenant;
  readonly caBundlePem: string;
  readonly subaccountId: string;
  readonly identityZone: string;
  readonly smCredentials: { readonly secret: SmSecretCredentials; readonly x509: SmX509Credentials };
  /** Bindings of the first destination instance (or of an instance outside the catalogue when none). */
  readonly destinationCredentials: {
    readonly secret: DestinationSecretCredentials;
    readonly x509: DestinationX509Credentials;
  };
  readonly instances: readonly ServiceInstance[];
}

/** Test setup of the Destination service, out of band (as if done in the cockpit). */
export interface DestinationAdmin {
  /** Adds or replaces a destination (`Name` required); subaccount level by default. */
  putDestination(configuration: Readonly<Record<string, string>>, owner?: Owner): void;
  removeDestination(name: string, owner?: Owner): boolean;
  /** Builds a keystore (key + chain from the other tenant's CA) and stores it. */
  seedCertificate(request: SeedRequest): Promise<SeededCertificate>;
  /** Stored files, never their content. */
  certificates(): StoredCertificateSummary[];
  removeCertificate(name: string, owner?: Owner): boolean;
}

export interface Simulator extends SimulatorState {
  /** The instance named `name`; throws when there is none. */
  instance(name: string): ServiceInstance;
  addInstance(spec: InstanceSpec): ServiceInstance;
  injectFault(fault: Fault): string;
  removeFault(id: string): boolean;
  clearFaults(): void;
  activeFaults(): readonly ActiveFault[];
  counters(): SimulatorCounters;
  resetCounters(): void;
  /** Clears faults and counters; bindings stay. */
  reset(): void;
  bindings(): BindingSummary[];
  /** Deletes a binding out of band (revoking its certificate), as if someone used the cockpit. */
  removeBinding(id: string): boolean;
  /** Simulator-only, playing a tenant's own Service Manager: the next bindings created take these
   * IDs, in order (e.g. another namespace's binding ID, as shown in its status). */
  answerWithBindingIds(ids: readonly string[]): void;
  /** Simulator-only: every certificate issued from now on lives `seconds`; null restores the requested lifetimes. */
  setLifetimeOverride(seconds: number | null): void;
  updateSettings(patch: SettingsPatch): Settings;
  /** New x509 SM access credentials (another SM client), e.g. a short-lived one. */
  issueSmX509Credentials(options?: { validitySeconds?: number }): Promise<SmX509Credentials>;
  /** Revokes an SM client (either form): its token requests fail from now on. */
  revokeSmCredentials(clientid: string): void;
  readonly destinations: DestinationAdmin;
  /** Every request body any server received (token, SM, Destination service), oldest first. */
  requestBodies(): readonly ReceivedBody[];
  keyPoolStats(): KeyPoolStats;
  whenKeyPoolFull(): Promise<void>;
  stop(): Promise<void>;
}

function delegate(): { listener: RequestListener; set(target: RequestListener): void } {
  let target: RequestListener | undefined;
  return {
    listener: (req, res) => {
      if (target === undefined) {
        res.writeHead(503).end();
        return;
      }
      target(req, res);
    },
    set: (next) => {
      target = next;
    },
  };
}

export async function startSimulator(options: SimulatorConfig = {}): Promise<Simulator> {
  const config = resolveConfig(options);
  const { clock } = config;
  const logger = (config.logger ?? pino({ level: 'silent' })).child({ component: 'btp-simulator' });
  const keyPool = new KeyPool({
    targets: config.keyPool.sizes,
    prefill: config.keyPool.prefill,
    concurrency: config.keyPool.concurrency,
    onError: (error) => logger.warn({ err: error }, 'key generation failed'),
  });
  const [pki, tokenKeys, otherPki, otherTokenKeys] = await Promise.all([
    Pki.create(clock, keyPool),
    generateRsaKeyPair(2048),
    Pki.create(clock, keyPool, { label: 'Other Tenant', organization: 'Other Tenant Org' }),
    generateRsaKeyPair(2048),
  ]);
  const identity = await pki.serverIdentity();
  const counters = new Counters();
  const faults = new FaultBook((id) => counters.faultFired(id));
  for (const fault of config.faults) faults.add(fault);

  const servers: Record<ServerName, ReturnType<typeof delegate>> = {
    xsuaa: delegate(),
    xsuaaCert: delegate(),
    sm: delegate(),
    otherXsuaa: delegate(),
    otherXsuaaCert: delegate(),
    destination: delegate(),
  };
  const tlsHooks = (server: ServerName) => ({
    onHandshake: () => counters.handshake(server),
    onHandshakeFailure: (reason: string) => counters.handshakeFailed(server, reason),
  });
  const adminHandler = delegate();
  const listeners: Listener[] = [];
  const stopListeners = () => Promise.all(listeners.map((listener) => listener.close()));
  let xsuaa: Listener;
  let xsuaaCert: Listener;
  let sm: Listener;
  let admin: Listener;
  let destination: Listener;
  let otherXsuaa: Listener;
  let otherXsuaaCert: Listener;
  try {
    const https = async (server: ServerName, port: number, clientCaPem?: string): Promise<Listener> => {
      const listener = await listenHttps({
        identity,
        port,
        handler: servers[server].listener,
        ...(clientCaPem === undefined ? {} : { clientCaPem }),
        ...tlsHooks(server),
      });
      listeners.push(listener);
      return listener;
    };
    xsuaa = await https('xsuaa', config.ports.xsuaa);
    xsuaaCert = await https('xsuaaCert', config.ports.xsuaaCert, pki.rootPem);
    sm = await https('sm', config.ports.sm);
    destination = await https('destination', config.ports.destination);
    otherXsuaa = await https('otherXsuaa', config.ports.otherXsuaa);
    // The other tenant trusts only its own CA: a certificate of ours fails its handshake.
    otherXsuaaCert = await https('otherXsuaaCert', config.ports.otherXsuaaCert, otherPki.rootPem);
    admin = await listenHttp(config.ports.admin, adminHandler.listener);
    listeners.push(admin);
  } catch (error) {
    await stopListeners();
    keyPool.stop();
    throw error;
  }

  const subaccountId = config.subaccountId ?? randomUUID();
  const zoneId = randomUUID();
  const signer = new TokenSigner({
    privateKey: tokenKeys.privateKey,
    publicKey: tokenKeys.publicKey,
    issuer: `${xsuaa.url}/oauth/token`,
    zoneId,
    subaccountId,
    clock,
  });
  const zone: ZoneFacts = {
    url: xsuaa.url,
    certurl: xsuaaCert.url,
    uaadomain: new URL(xsuaa.url).host,
    identityzone: config.identityZone,
    identityzoneid: zoneId,
    tenantid: zoneId,
    subaccountid: subaccountId,
    apiurl: xsuaa.url,
    verificationkey: signer.verificationKeyPem,
    destinationUrl: destination.url,
  };
  const otherSigner = new TokenSigner({
    privateKey: otherTokenKeys.privateKey,
    publicKey: otherTokenKeys.publicKey,
    issuer: `${otherXsuaa.url}/oauth/token`,
    zoneId: randomUUID(),
    subaccountId: randomUUID(),
    clock,
  });
  const chosenBindingIds: string[] = [];
  const settings = {
    lifetimeOverrideSeconds: config.lifetimeOverrideSeconds,
    notBeforeBackdateSeconds: config.notBeforeBackdateSeconds,
    async: config.async,
    destinationAutoRenew: true,
  };
  const clients = new ClientRegistry();
  const catalogue = new Catalogue();
  for (const spec of config.instances) catalogue.add(spec, new Date(clock.now()));
  const store = new BindingStore(clock, {
    created: (binding) => {
      clients.register(binding.issued.client);
      counters.bindingCreated(binding.name);
    },
    deleted: (binding) => {
      clients.remove(binding.issued.client.clientId);
      counters.bindingDeleted(binding.id, clock.now());
    },
  });
  const issuer = new CredentialIssuer({
    pki,
    keyPool,
    faults,
    clock,
    zone: () => ({ ...zone, smUrl: sm.url }),
    lifetimeOverrideSeconds: () => settings.lifetimeOverrideSeconds,
    notBeforeBackdateSeconds: () => settings.notBeforeBackdateSeconds,
  });
  const endpoints = { smUrl: sm.url, xsuaaUrl: xsuaa.url, xsuaaCertUrl: xsuaaCert.url, subaccountId };
  const destinationInstance = catalogue
    .instances()
    .find((instance) => instance.offering === 'destination') ?? {
    id: randomUUID(),
    xsappname: 'destination-simulator!t1',
  };
  const destinationCredentials = await createDestinationCredentials(
    zone,
    destinationInstance,
    clients,
    pki,
    clock,
  );
  const destinationClientInstances = new Map([
    [destinationCredentials.secret.clientid, destinationInstance.id],
    [destinationCredentials.x509.clientid, destinationInstance.id],
  ]);
  const instanceOfClient = (clientId: string): string | undefined => {
    const known = destinationClientInstances.get(clientId);
    if (known !== undefined) return known;
    const binding = store.list().find((candidate) => candidate.issued.client.clientId === clientId);
    return binding === undefined || catalogue.instance(binding.instanceId)?.offering !== 'destination'
      ? undefined
      : binding.instanceId;
  };
  const destinationStore = new DestinationStore({
    clock,
    pki: otherPki,
    keyPool,
    autoRenew: () => settings.destinationAutoRenew,
  });
  const otherClients = destinationClients(destinationStore, ['uaa.resource']);
  const smCredentials = {
    secret: createSmSecretCredentials(endpoints, clients),
    x509: await createSmX509Credentials(endpoints, clients, pki, clock, config.smCredentialValiditySeconds),
  };

  const xsuaaHandlers = createXsuaa({
    clients,
    signer,
    clock,
    counters,
    faults,
    logger: logger.child({ server: 'xsuaa' }),
    settings: {
      tokenExpiresInSeconds: config.tokenExpiresInSeconds,
      tokenRateLimitPerSecond: config.tokenRateLimitPerSecond,
    },
    urls: () => ({ url: xsuaa.url, certurl: xsuaaCert.url }),
  });
  servers.xsuaa.set(xsuaaHandlers.plain);
  servers.xsuaaCert.set(xsuaaHandlers.cert);
  const otherXsuaaHandlers = createXsuaa({
    clients: otherClients,
    routes: OTHER_XSUAA_ROUTE_NAMES,
    signer: otherSigner,
    clock,
    counters,
    faults,
    logger: logger.child({ server: 'otherXsuaa' }),
    settings: {
      tokenExpiresInSeconds: config.tokenExpiresInSeconds,
      tokenRateLimitPerSecond: config.tokenRateLimitPerSecond,
    },
    urls: () => ({ url: otherXsuaa.url, certurl: otherXsuaaCert.url }),
  });
  servers.otherXsuaa.set(otherXsuaaHandlers.plain);
  servers.otherXsuaaCert.set(otherXsuaaHandlers.cert);
  servers.destination.set(
    createDestinationService({
      store: destinationStore,
      signer,
      otherSigner,
      otherTenantAccepts: (clientId, fingerprint) =>
        otherClients.clientIdForCertificate(fingerprint) === clientId,
      certificateFingerprints,
      instanceOfClient,
      tokenExpiresInSeconds: config.tokenExpiresInSeconds,
      subaccountId,
      clock,
      counters,
      faults,
      logger: logger.child({ server: 'destination' }),
    }),
  );
  servers.sm.set(
    createServiceManager({
      store,
      catalogue,
      issuer,
      signer,
      clock,
      counters,
      faults,
      logger: logger.child({ server: 'sm' }),
      async: () => settings.async,
      rateLimits: config.smRateLimits,
      nextBindingId: () => chosenBindingIds.shift(),
    }),
  );

  const summary = (binding: Binding): BindingSummary => {
    const certificate = binding.issued.certificate;
    return {
      id: binding.id,
      name: binding.name,
      instanceId: binding.instanceId,
      clientid: binding.issued.client.clientId,
      phase: binding.phase === 'deleting' ? 'deleting' : 'ready',
      labels: binding.labels,
      createdAt: new Date(binding.createdAt).toISOString(),
      credentialType: certificate === undefined ? 'binding-secret' : 'x509',
      ...(certificate === undefined
        ? {}
        : {
            certificate: {
              serialHex: certificate.serialHex,
              fingerprint256: certificate.fingerprint256,
              notBefore: certificate.notBefore.toISOString(),
              notAfter: certificate.notAfter.toISOString(),
              defect: certificate.defect ?? null,
            },
          }),
    };
  };

  const fixedState: Omit<SimulatorState, 'instances'> = {
    smUrl: sm.url,
    xsuaaUrl: xsuaa.url,
    xsuaaCertUrl: xsuaaCert.url,
    adminUrl: admin.url,
    destinationUrl: destination.url,
    otherTenant: { url: otherXsuaa.url, certurl: otherXsuaaCert.url, caPem: otherPki.rootPem },
    caBundlePem: pki.rootPem,
    subaccountId,
    identityZone: config.identityZone,
    smCredentials,
    destinationCredentials,
  };
  const subaccount: Owner = { level: 'subaccount' };
  const destinations: DestinationAdmin = {
    putDestination: (configuration, owner = subaccount) =>
      destinationStore.putDestination(owner, configuration),
    removeDestination: (name, owner = subaccount) => destinationStore.removeDestination(owner, name),
    seedCertificate: (request) => destinationStore.seed(request),
    certificates: () => destinationStore.allFiles().map((file) => destinationStore.summary(file)),
    removeCertificate: (name, owner = subaccount) => destinationStore.removeFile(owner, name),
  };
  const simulator: Simulator & AdminTarget = {
    ...fixedState,
    get instances() {
      return catalogue.instances();
    },
    instance: (name) => {
      const found = catalogue.instances().find((instance) => instance.name === name);
      if (found === undefined) throw new Error(`no service instance named ${name}`);
      return found;
    },
    addInstance: (spec) => catalogue.add(spec, new Date(clock.now())),
    injectFault: (fault) => faults.add(fault),
    removeFault: (id) => faults.remove(id),
    clearFaults: () => faults.clear(),
    activeFaults: () => faults.list(),
    counters: () => ({ ...counters.snapshot(), liveBindingsByInstance: store.countByInstance() }),
    resetCounters: () => counters.reset(),
    reset: () => {
      faults.clear();
      counters.reset();
    },
    bindings: () => store.list().map(summary),
    removeBinding: (id) => store.removeNow(id),
    answerWithBindingIds: (ids) => {
      chosenBindingIds.push(...ids);
    },
    setLifetimeOverride: (seconds) => {
      settings.lifetimeOverrideSeconds = seconds;
    },
    updateSettings: (patch) => {
      if (patch.lifetimeOverrideSeconds !== undefined)
        settings.lifetimeOverrideSeconds = patch.lifetimeOverrideSeconds;
      if (patch.notBeforeBackdateSeconds !== undefined)
        settings.notBeforeBackdateSeconds = patch.notBeforeBackdateSeconds;
      if (patch.async !== undefined) settings.async = { ...settings.async, ...patch.async };
      if (patch.destinationAutoRenew !== undefined)
        settings.destinationAutoRenew = patch.destinationAutoRenew;
      return { ...settings };
    },
    issueSmX509Credentials: (issueOptions) =>
      createSmX509Credentials(
        endpoints,
        clients,
        pki,
        clock,
        issueOptions?.validitySeconds ?? config.smCredentialValiditySeconds,
      ),
    revokeSmCredentials: (clientid) => clients.remove(clientid),
    destinations,
    requestBodies: () => counters.bodies(),
    keyPoolStats: () => keyPool.stats(),
    whenKeyPoolFull: () => keyPool.whenFull(),
    state: (): SimulatorState => ({ ...fixedState, instances: catalogue.instances() }),
    stop: async () => {
      keyPool.stop();
      await stopListeners();
    },
  };
  adminHandler.set(createAdmin(simulator, logger.child({ server: 'admin' })));
  logger.info(
    { smUrl: sm.url, xsuaaUrl: xsuaa.url, xsuaaCertUrl: xsuaaCert.url, adminUrl: admin.url },
    'BTP simulator listening',
  );
  return simulator;
}
