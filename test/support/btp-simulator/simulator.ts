// Composition: the BTP simulator = PKI + XSUAA (url, certurl) + Service Manager + admin API,
// all on 127.0.0.1 over real TLS. `startSimulator` is the one entry point for tests, the
// demo and the benchmark; cli.ts runs it standalone.
import { randomUUID } from 'node:crypto';
import type { RequestListener } from 'node:http';
import { pino } from 'pino';
import { type AdminTarget, createAdmin, type Settings, type SettingsPatch } from './admin.ts';
import { type Binding, BindingStore } from './bindings.ts';
import { resolveConfig, type SimulatorConfig } from './config.ts';
import { type CounterSnapshot, Counters } from './counters.ts';
import type { ZoneFacts } from './credentials.ts';
import { type ActiveFault, type CredentialDefect, type Fault, FaultBook } from './faults.ts';
import { Catalogue, type InstanceSpec, type ServiceInstance } from './instances.ts';
import { CredentialIssuer } from './issue-credentials.ts';
import { generateRsaKeyPair, KeyPool, type KeyPoolStats } from './key-pool.ts';
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
import { createXsuaa } from './xsuaa.ts';

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

export interface SimulatorState {
  readonly smUrl: string;
  readonly xsuaaUrl: string;
  readonly xsuaaCertUrl: string;
  readonly adminUrl: string;
  readonly caBundlePem: string;
  readonly subaccountId: string;
  readonly identityZone: string;
  readonly smCredentials: { readonly secret: SmSecretCredentials; readonly x509: SmX509Credentials };
  readonly instances: readonly ServiceInstance[];
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
  const [pki, tokenKeys] = await Promise.all([Pki.create(clock, keyPool), generateRsaKeyPair(2048)]);
  const identity = await pki.serverIdentity();
  const counters = new Counters();
  const faults = new FaultBook((id) => counters.faultFired(id));
  for (const fault of config.faults) faults.add(fault);

  const servers: Record<ServerName, ReturnType<typeof delegate>> = {
    xsuaa: delegate(),
    xsuaaCert: delegate(),
    sm: delegate(),
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
  try {
    xsuaa = await listenHttps({
      identity,
      port: config.ports.xsuaa,
      handler: servers.xsuaa.listener,
      ...tlsHooks('xsuaa'),
    });
    listeners.push(xsuaa);
    xsuaaCert = await listenHttps({
      identity,
      port: config.ports.xsuaaCert,
      clientCaPem: pki.rootPem,
      handler: servers.xsuaaCert.listener,
      ...tlsHooks('xsuaaCert'),
    });
    listeners.push(xsuaaCert);
    sm = await listenHttps({
      identity,
      port: config.ports.sm,
      handler: servers.sm.listener,
      ...tlsHooks('sm'),
    });
    listeners.push(sm);
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
  };
  const chosenBindingIds: string[] = [];
  const settings = {
    lifetimeOverrideSeconds: config.lifetimeOverrideSeconds,
    notBeforeBackdateSeconds: config.notBeforeBackdateSeconds,
    async: config.async,
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
    caBundlePem: pki.rootPem,
    subaccountId,
    identityZone: config.identityZone,
    smCredentials,
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
