// Wires the BTPCertificate controller: informers and watches feed keys into the work queue; the
// queue runs reconcileCertificate. The informers, the API probe and the caches are built by the
// small builders below; the constructor only puts them together. The stateful pieces of the
// certificate package are this, the DependencyIndex and the ServiceManagerSessions it owns.
import {
  CoreV1Api,
  CustomObjectsApi,
  type KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
  type V1Secret,
} from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { GROUP, PLURAL, VERSION } from '../api/schema.ts';
import type { KubeApi } from '../kube/api.ts';
import { trimmedForCache } from '../kube/cache-trim.ts';
import { statusOf } from '../kube/errors.ts';
import { EventRecorder } from '../kube/events.ts';
import { type ChangeKind, ResilientInformer } from '../kube/informer.ts';
import { NameWatch } from '../kube/name-watch.ts';
import { decodeSecretData } from '../kube/secret-data.ts';
import type { WatchTimeouts } from '../kube/watch.ts';
import type { Action } from '../runtime/action.ts';
import type { Clock, Timer } from '../runtime/clock.ts';
import { type Failpoints, noFailpoints } from '../runtime/failpoints.ts';
import { type RunResult, WorkQueue } from '../runtime/queue.ts';
import type { DestinationFactory, DestinationPort } from '../sources/destination-port.ts';
import {
  SERVICE_BINDING_GROUP,
  SERVICE_BINDING_PLURAL,
  SERVICE_BINDING_VERSION,
} from '../sources/service-binding.ts';
import type { ServiceManagerFactory, ServiceManagerPort } from '../sources/service-manager.ts';
import { DEFAULT_MAX_BINDINGS } from './bindings.ts';
import type { DefaultCredentialsPolicy } from './default-credentials-policy.ts';
import { DependencyIndex } from './dependencies.ts';
import { DestinationSessions } from './destination-reads.ts';
import { OwnWrites } from './own-writes.ts';
import {
  forgetCertificate,
  type ReconcileDeps,
  reconcileCertificate,
  type ServiceBindingLookup,
} from './reconcile.ts';
import { cachedManagedSecret, controllingCertificate, MANAGED_LABEL } from './secret.ts';
import { ServiceManagerSessions } from './service-manager-sessions.ts';
import type { SmDeps } from './service-manager-source.ts';
import type { TokenCheckPort } from './token-reconcile.ts';

export type ControllerOptions = {
  readonly kubeConfig: KubeConfig;
  readonly kube: KubeApi;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Empty: all namespaces. */
  readonly namespaces: readonly string[];
  readonly concurrency: number;
  readonly resyncMs: number;
  readonly onResult?: (result: RunResult) => void;
  /** Builds a Service Manager client for an access credential (the serviceManager source). */
  readonly serviceManager: ServiceManagerFactory;
  readonly releaseServiceManager?: (port: ServiceManagerPort) => Promise<void>;
  /** The operator-wide default SM access Secret; undefined: CRs must name their own. */
  readonly defaultSmCredentials?: { readonly namespace: string; readonly name: string } | undefined;
  /** Who may use the default credentials, for which instances (--default-sm-credentials-policy);
   * undefined: nobody. */
  readonly defaultSmCredentialsPolicy?: DefaultCredentialsPolicy | undefined;
  /** Live bindings a serviceManager BTPCertificate may have before it creates another (default 3). */
  readonly maxBindingsPerCertificate?: number;
  /** Builds a Destination service client for an access credential (the destination source);
   * absent: a destination source reports DestinationServiceError. */
  readonly destination?: DestinationFactory;
  readonly releaseDestination?: (port: DestinationPort) => Promise<void>;
  /** Runs the token checks (src/token/checker.ts). */
  readonly tokens: TokenCheckPort;
  readonly failpoints?: Failpoints;
  /** Of every informer and watch; absent: the defaults of src/kube/watch.ts. */
  readonly watchTimeouts?: WatchTimeouts;
};

type Obj = KubernetesObject;
type Scope = string | undefined;
const keyOf = (o: Obj) => `${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}`;
const suffix = (ns: Scope) => (ns ? `@${ns}` : '');

/** What every informer and watch of the controller shares. */
type Common = {
  readonly kubeConfig: KubeConfig;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly watchTimeouts?: WatchTimeouts;
};

const customPath = (group: string, version: string, plural: string, ns: Scope) =>
  ns === undefined
    ? `/apis/${group}/${version}/${plural}`
    : `/apis/${group}/${version}/namespaces/${ns}/${plural}`;

/** One informer per scope for a custom resource (BTPCertificates, ServiceBindings). */
function customInformers(
  custom: CustomObjectsApi,
  common: Common,
  scopes: readonly Scope[],
  name: string,
  r: { readonly group: string; readonly version: string; readonly plural: string },
  /** The annotation domains the controller reads of these objects; the cache keeps no others. */
  annotationDomains: readonly string[],
): ResilientInformer<Obj>[] {
  return scopes.map(
    (ns) =>
      new ResilientInformer<Obj>({
        ...common,
        name: `${name}${suffix(ns)}`,
        admit: (obj) => trimmedForCache(obj, annotationDomains),
        path: customPath(r.group, r.version, r.plural, ns),
        list: async (): Promise<KubernetesListObject<Obj>> =>
          (ns === undefined
            ? await custom.listClusterCustomObject({ ...r })
            : await custom.listNamespacedCustomObject({ ...r, namespace: ns })) as KubernetesListObject<Obj>,
      }),
  );
}

/** How long the workers wait at most for the caches before they start (see start()). */
const SYNC_WAIT_MS = 30_000;

/** Secrets are up to 1 MiB each (1.4 MB as JSON): a page of them is at most a few tens of MB. */
const MANAGED_SECRETS_PAGE = 25;

/**
 * One informer per scope for the Secrets this operator writes (labelled), the only ones cached:
 * those a BTPCertificate controls, without their data (see cachedManagedSecret).
 */
function managedSecretInformers(
  core: CoreV1Api,
  common: Common,
  scopes: readonly Scope[],
): ResilientInformer<V1Secret>[] {
  return scopes.map(
    (ns) =>
      new ResilientInformer<V1Secret>({
        ...common,
        name: `managed-secrets${suffix(ns)}`,
        path: ns === undefined ? '/api/v1/secrets' : `/api/v1/namespaces/${ns}/secrets`,
        labelSelector: `${MANAGED_LABEL}=true`,
        admit: cachedManagedSecret,
        // A namespace user may label many large Secrets: a relist holds one page of them at a time.
        listPageSize: MANAGED_SECRETS_PAGE,
        list: (sel) =>
          ns === undefined
            ? core.listSecretForAllNamespaces({ ...sel })
            : core.listNamespacedSecret({ namespace: ns, ...sel }),
      }),
  );
}

/** One name-only watch per scope for source Secrets, which are not cached (ADR 0002). */
function sourceSecretWatches(
  core: CoreV1Api,
  common: Common,
  scopes: readonly Scope[],
  onChange: (namespace: string, name: string) => void,
  onGap: (scopeIndex: number) => void,
): NameWatch[] {
  return scopes.map(
    (ns, i) =>
      new NameWatch({
        ...common,
        path: ns === undefined ? '/api/v1/secrets' : `/api/v1/namespaces/${ns}/secrets`,
        currentVersion: async () => {
          const list =
            ns === undefined
              ? await core.listSecretForAllNamespaces({ limit: 1 })
              : await core.listNamespacedSecret({ namespace: ns, limit: 1 });
          return list.metadata?.resourceVersion ?? '';
        },
        onChange,
        onGap: () => onGap(i),
      }),
  );
}

/** Whether the ServiceBinding API is installed, asked of the API server (not cached). */
function serviceBindingApiProbe(custom: CustomObjectsApi): (namespace: string) => Promise<boolean> {
  return async (namespace) => {
    try {
      await custom.listNamespacedCustomObject({
        group: SERVICE_BINDING_GROUP,
        version: SERVICE_BINDING_VERSION,
        namespace,
        plural: SERVICE_BINDING_PLURAL,
        limit: 1,
      });
      return true;
    } catch (e) {
      if (statusOf(e) === 404) return false;
      throw e;
    }
  };
}

/**
 * A ServiceBinding from its informer once synced; before that (starting up, or the CRD is not
 * installed yet) from the API server, or that the API is missing.
 */
function serviceBindingLookup(
  informerFor: (ns: string) => ResilientInformer<Obj> | undefined,
  apiInstalled: (namespace: string) => Promise<boolean>,
  kube: KubeApi,
): (ns: string, name: string) => Promise<ServiceBindingLookup> {
  const found = (object: unknown): ServiceBindingLookup =>
    object === undefined ? { kind: 'absent' } : { kind: 'found', object };
  return async (ns, name) => {
    const informer = informerFor(ns);
    if (informer?.hasSynced()) return found(informer.get(ns, name));
    if (!(await apiInstalled(ns))) return { kind: 'api-missing' };
    return found(
      await kube.getObject(`${SERVICE_BINDING_GROUP}/${SERVICE_BINDING_VERSION}`, 'ServiceBinding', ns, name),
    );
  };
}

/** A Secret's data, decoded; undefined when there is none. */
const getSecretData =
  (kube: KubeApi) =>
  async (namespace: string, name: string): Promise<Record<string, string> | undefined> => {
    const secret = await kube.getSecret(namespace, name);
    return secret === undefined ? undefined : decodeSecretData(secret);
  };

/** The serviceManager source's dependencies, with the process state it keeps. */
function serviceManagerDeps(o: ControllerOptions): SmDeps {
  return {
    getSecretData: getSecretData(o.kube),
    defaultCredentials: o.defaultSmCredentials,
    defaultCredentialsPolicy: o.defaultSmCredentialsPolicy,
    maxBindings: o.maxBindingsPerCertificate ?? DEFAULT_MAX_BINDINGS,
    sessions: new ServiceManagerSessions(
      o.serviceManager,
      o.releaseServiceManager ?? (async (port: ServiceManagerPort) => port.close()),
    ),
  };
}

export class CertificateController {
  readonly #queue: WorkQueue;
  readonly #certificates: ResilientInformer<Obj>[];
  readonly #managedSecrets: ResilientInformer<V1Secret>[];
  readonly #serviceBindings: ResilientInformer<Obj>[];
  readonly #sourceSecrets: NameWatch[];
  readonly #dependencies = new DependencyIndex();
  readonly #ownWrites = new OwnWrites();
  /** Changes that arrived while a run of their key was in progress, by key (see #changed). */
  readonly #heldWhileRunning = new Map<string, (() => boolean)[]>();
  readonly #log: Logger;
  readonly #clock: Clock;
  readonly #namespaces: readonly string[];
  readonly #deps: ReconcileDeps;
  /** Per source-Secret watch: resolved once it knows the version it watches from (its first gap). */
  readonly #sourceVersionsKnown: PromiseWithResolvers<void>[];
  #stopping = false;
  #syncWait: Timer | undefined;

  constructor(o: ControllerOptions) {
    this.#log = o.logger;
    this.#clock = o.clock;
    this.#namespaces = o.namespaces;
    const core = o.kubeConfig.makeApiClient(CoreV1Api);
    const custom = o.kubeConfig.makeApiClient(CustomObjectsApi);
    const scopes: readonly Scope[] = o.namespaces.length === 0 ? [undefined] : o.namespaces;
    this.#sourceVersionsKnown = scopes.map(() => Promise.withResolvers<void>());
    const common: Common = {
      kubeConfig: o.kubeConfig,
      clock: o.clock,
      logger: o.logger,
      ...(o.watchTimeouts ? { watchTimeouts: o.watchTimeouts } : {}),
    };
    // Each kind's cache keeps the annotations of its own API group only (cache-trim.ts).
    const informers = (name: string, group: string, version: string, plural: string) =>
      customInformers(custom, common, scopes, name, { group, version, plural }, [group]);
    this.#certificates = informers('btpcertificates', GROUP, VERSION, PLURAL);
    this.#serviceBindings = informers(
      'servicebindings',
      SERVICE_BINDING_GROUP,
      SERVICE_BINDING_VERSION,
      SERVICE_BINDING_PLURAL,
    );
    this.#managedSecrets = managedSecretInformers(core, common, scopes);
    this.#sourceSecrets = sourceSecretWatches(
      core,
      common,
      scopes,
      (namespace, name) => this.#wake('secret', `${namespace}/${name}`),
      // Only at the start and after a 410 (an end of the watch is no gap; ADR 0007).
      (i) => {
        this.#sourceVersionsKnown[i]?.resolve();
        for (const key of this.#dependencies.allDependents('secret')) this.#queue.add(key);
      },
    );
    this.#deps = {
      clock: o.clock,
      logger: o.logger,
      kube: o.kube,
      events: new EventRecorder({ api: o.kube, clock: o.clock, logger: o.logger }),
      dependencies: this.#dependencies,
      sm: serviceManagerDeps(o),
      destination: {
        kube: o.kube,
        getSecretData: getSecretData(o.kube),
        sessions:
          o.destination === undefined
            ? undefined
            : new DestinationSessions(o.destination, o.releaseDestination ?? (async (port) => port.close())),
      },
      tokens: o.tokens,
      failpoints: o.failpoints ?? noFailpoints,
      ownWrites: this.#ownWrites,
      caches: {
        certificate: (ns, name) => this.#find(this.#certificates, ns, name),
        serviceBinding: serviceBindingLookup(
          (ns) => this.#informerFor(this.#serviceBindings, ns),
          serviceBindingApiProbe(custom),
          o.kube,
        ),
      },
    };
    this.#queue = new WorkQueue({
      clock: o.clock,
      concurrency: o.concurrency,
      resyncMs: o.resyncMs,
      logger: o.logger,
      ...(o.onResult ? { onResult: o.onResult } : {}),
      handler: (key) => this.#reconcile(key),
    });
    this.#wire();
  }

  /**
   * A change of the certificate `key` or of its Secret: queues the key unless the change is our
   * own write (`isOwn`). While a run of the key is in progress its writes' events may arrive before
   * their responses have been recorded: such changes are looked at when the run ends.
   */
  #changed(key: string, isOwn: () => boolean): void {
    const held = this.#heldWhileRunning.get(key);
    if (held !== undefined) held.push(isOwn);
    else if (!isOwn()) this.#queue.add(key);
  }

  async #reconcile(key: string): Promise<Action> {
    const held: (() => boolean)[] = [];
    this.#heldWhileRunning.set(key, held);
    let action: Action;
    try {
      action = await reconcileCertificate(key, this.#deps);
    } finally {
      this.#heldWhileRunning.delete(key);
      // Still running: the queue runs the key once more when this run ends. Every check runs, so
      // each own version is consumed.
      if (held.map((isOwn) => isOwn()).includes(false)) this.#queue.add(key);
    }
    // A BTPCertificate that is gone needs no resync: drop its key, and what is kept for it
    // (it may have gone while this run was in progress: forgetting the key drops the rerun
    // its delete event asked for).
    const [ns = '', name = ''] = key.split('/');
    if (this.#find(this.#certificates, ns, name) === undefined) {
      await forgetCertificate(key, this.#deps);
      this.#queue.forget(key);
    }
    return action;
  }

  /** Informer events to queue keys: a certificate itself, its managed Secret, a ServiceBinding it reads. */
  #wire(): void {
    // A change we made ourselves (own-writes.ts) wakes nobody; a deletion always does.
    const own = (kind: string, obj: Obj, change: ChangeKind) => () => {
      const object = `${kind}:${keyOf(obj)}`;
      if (change !== 'delete') return this.#ownWrites.consume(object, obj.metadata?.resourceVersion);
      this.#ownWrites.forget(object);
      return false;
    };
    for (const inf of this.#certificates) {
      inf.onChange((obj, change) => this.#changed(keyOf(obj), own('certificate', obj, change)));
    }
    for (const inf of this.#managedSecrets) {
      inf.onChange((secret, change) => {
        const owner = controllingCertificate(secret);
        if (owner === undefined) return;
        this.#changed(`${secret.metadata?.namespace ?? ''}/${owner.name}`, own('secret', secret, change));
      });
    }
    for (const inf of this.#serviceBindings) {
      inf.onChange((obj) => this.#wake('servicebinding', keyOf(obj)));
      void inf.whenSynced().then(
        () => {
          for (const key of this.#dependencies.allDependents('servicebinding')) this.#queue.add(key);
        },
        () => {},
      );
    }
  }

  /** Whether Service Manager state is kept for this BTPCertificate uid (tests: nothing outlives it). */
  holdsServiceManagerState(uid: string): boolean {
    return this.#deps.sm.sessions.holds(uid);
  }

  /** A Secret this operator manages, from its cache: metadata only (see cachedManagedSecret). */
  managedSecret(namespace: string, name: string): V1Secret | undefined {
    return this.#informerFor(this.#managedSecrets, namespace)?.get(namespace, name);
  }

  /** Calls `listener` for every change of a managed Secret. */
  onManagedSecretChange(listener: (secret: V1Secret) => void): void {
    for (const inf of this.#managedSecrets) inf.onChange((secret) => listener(secret));
  }

  /** The BTPCertificates in the cache (metrics). Shared with the cache: do not mutate. */
  cachedCertificates(): readonly unknown[] {
    return this.#certificates.flatMap((i) => i.list());
  }

  get queue(): WorkQueue {
    return this.#queue;
  }

  /** Restarts of informers and watches after errors so far (tests, metrics); routine ends do not count. */
  get restarts(): number {
    return [
      ...this.#certificates,
      ...this.#managedSecrets,
      ...this.#serviceBindings,
      ...this.#sourceSecrets,
    ].reduce((n, i) => n + i.restarts, 0);
  }

  /** Watches opened so far, by informer or watch: `btpcertificates`, `source-secrets@team-a`, ... */
  watches(): Readonly<Record<string, number>> {
    const scopes = this.#namespaces.length === 0 ? [''] : this.#namespaces.map((ns) => `@${ns}`);
    const counts: Record<string, number> = {};
    const add = (name: string, list: readonly { readonly watches: number }[]) => {
      list.forEach((w, i) => {
        counts[`${name}${scopes[i] ?? ''}`] = w.watches;
      });
    };
    add('btpcertificates', this.#certificates);
    add('managed-secrets', this.#managedSecrets);
    add('servicebindings', this.#serviceBindings);
    add('source-secrets', this.#sourceSecrets);
    return counts;
  }

  /** True once the informers the reconciler reads first have their initial lists. */
  ready(): boolean {
    return this.#certificates.every((i) => i.hasSynced());
  }

  start(): void {
    for (const i of [...this.#certificates, ...this.#managedSecrets, ...this.#serviceBindings]) i.start();
    for (const w of this.#sourceSecrets) w.start();
    // Workers start once the caches they read have their lists and the source-Secret watches know
    // their version: every key the lists report is then queued once and run once (a restart
    // confirms each certificate once, issue 11; before, a key run before the managed Secrets'
    // paged list or the first gap reached it ran again), and the first gap finds no dependents.
    // A cache that cannot fill (e.g. no permission in one namespace) holds them back
    // SYNC_WAIT_MS at most, so that the other namespaces are served.
    const startWorkers = () => {
      this.#syncWait?.cancel();
      if (!this.#stopping) this.#queue.start();
    };
    this.#syncWait = this.#clock.setTimer(startWorkers, SYNC_WAIT_MS);
    void Promise.all([
      ...[...this.#certificates, ...this.#managedSecrets].map((i) => i.whenSynced()),
      ...this.#sourceVersionsKnown.map((v) => v.promise),
    ]).then(startWorkers, () => {});
    this.#log.info('controller started');
  }

  async stop(): Promise<void> {
    this.#stopping = true;
    this.#syncWait?.cancel();
    await Promise.all([
      ...[...this.#certificates, ...this.#managedSecrets, ...this.#serviceBindings].map((i) => i.stop()),
      ...this.#sourceSecrets.map((w) => w.stop()),
    ]);
    await this.#queue.stop();
    this.#log.info('controller stopped');
  }

  #wake(kind: 'secret' | 'servicebinding', object: string): void {
    for (const key of this.#dependencies.dependents(kind, object)) this.#queue.add(key);
  }

  /** The informer of the namespace's scope; undefined for a namespace that is not watched. */
  #informerFor<T extends Obj>(informers: readonly ResilientInformer<T>[], ns: string) {
    return this.#namespaces.length === 0 ? informers[0] : informers[this.#namespaces.indexOf(ns)];
  }

  #find<T extends Obj>(informers: readonly ResilientInformer<T>[], ns: string, name: string): T | undefined {
    return this.#informerFor(informers, ns)?.get(ns, name);
  }
}
