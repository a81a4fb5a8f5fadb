// Wires the BTPCertificate controller: informers and watches feed keys into the work queue; the
// queue runs reconcileCertificate. The only stateful piece of the certificate package.
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
import { statusOf } from '../kube/errors.ts';
import { EventRecorder } from '../kube/events.ts';
import { ResilientInformer } from '../kube/informer.ts';
import { NameWatch } from '../kube/name-watch.ts';
import { decodeSecretData } from '../kube/secret-data.ts';
import type { WatchTimeouts } from '../kube/watch.ts';
import type { Clock } from '../runtime/clock.ts';
import { type Failpoints, noFailpoints } from '../runtime/failpoints.ts';
import { type RunResult, WorkQueue } from '../runtime/queue.ts';
import {
  SERVICE_BINDING_GROUP,
  SERVICE_BINDING_PLURAL,
  SERVICE_BINDING_VERSION,
} from '../sources/service-binding.ts';
import type { ServiceManagerFactory, ServiceManagerPort } from '../sources/service-manager.ts';
import { DependencyIndex } from './dependencies.ts';
import { forgetCertificate, reconcileCertificate, type ServiceBindingLookup } from './reconcile.ts';
import { MANAGED_LABEL } from './secret.ts';
import { ServiceManagerSessions } from './service-manager-sessions.ts';
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
  /** Runs the token checks (src/token/checker.ts). */
  readonly tokens: TokenCheckPort;
  readonly failpoints?: Failpoints;
  /** Of every informer and watch; absent: the defaults of src/kube/watch.ts. */
  readonly watchTimeouts?: WatchTimeouts;
};

type Obj = KubernetesObject;
const keyOf = (o: Obj) => `${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}`;

export class CertificateController {
  readonly #queue: WorkQueue;
  readonly #certificates: ResilientInformer<Obj>[];
  readonly #managedSecrets: ResilientInformer<V1Secret>[];
  readonly #serviceBindings: ResilientInformer<Obj>[];
  readonly #sourceSecrets: NameWatch[];
  readonly #dependencies = new DependencyIndex();
  readonly #log: Logger;
  readonly #namespaces: readonly string[];

  constructor(o: ControllerOptions) {
    this.#log = o.logger;
    this.#namespaces = o.namespaces;
    const core = o.kubeConfig.makeApiClient(CoreV1Api);
    const custom = o.kubeConfig.makeApiClient(CustomObjectsApi);
    const scopes: readonly (string | undefined)[] = o.namespaces.length === 0 ? [undefined] : o.namespaces;
    const common = {
      kubeConfig: o.kubeConfig,
      clock: o.clock,
      logger: o.logger,
      ...(o.watchTimeouts ? { watchTimeouts: o.watchTimeouts } : {}),
    };

    const customPath = (group: string, version: string, plural: string, ns: string | undefined) =>
      ns === undefined
        ? `/apis/${group}/${version}/${plural}`
        : `/apis/${group}/${version}/namespaces/${ns}/${plural}`;
    const listCustom =
      (group: string, version: string, plural: string, ns: string | undefined) =>
      async (): Promise<KubernetesListObject<Obj>> =>
        (ns === undefined
          ? await custom.listClusterCustomObject({ group, version, plural })
          : await custom.listNamespacedCustomObject({
              group,
              version,
              namespace: ns,
              plural,
            })) as KubernetesListObject<Obj>;

    this.#certificates = scopes.map(
      (ns) =>
        new ResilientInformer<Obj>({
          ...common,
          name: `btpcertificates${ns ? `@${ns}` : ''}`,
          path: customPath(GROUP, VERSION, PLURAL, ns),
          list: listCustom(GROUP, VERSION, PLURAL, ns),
        }),
    );
    this.#serviceBindings = scopes.map(
      (ns) =>
        new ResilientInformer<Obj>({
          ...common,
          name: `servicebindings${ns ? `@${ns}` : ''}`,
          path: customPath(SERVICE_BINDING_GROUP, SERVICE_BINDING_VERSION, SERVICE_BINDING_PLURAL, ns),
          list: listCustom(SERVICE_BINDING_GROUP, SERVICE_BINDING_VERSION, SERVICE_BINDING_PLURAL, ns),
        }),
    );
    this.#managedSecrets = scopes.map(
      (ns) =>
        new ResilientInformer<V1Secret>({
          ...common,
          name: `managed-secrets${ns ? `@${ns}` : ''}`,
          path: ns === undefined ? '/api/v1/secrets' : `/api/v1/namespaces/${ns}/secrets`,
          labelSelector: `${MANAGED_LABEL}=true`,
          list: (sel) =>
            ns === undefined
              ? core.listSecretForAllNamespaces({ ...sel })
              : core.listNamespacedSecret({ namespace: ns, ...sel }),
        }),
    );
    this.#sourceSecrets = scopes.map(
      (ns) =>
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
          onChange: (namespace, name) => this.#wake('secret', `${namespace}/${name}`),
          // Only at the start and after a 410 (an end of the watch is no gap; ADR 0007).
          onGap: () => {
            for (const key of this.#dependencies.allDependents('secret')) this.#queue.add(key);
          },
        }),
    );

    const events = new EventRecorder({ api: o.kube, clock: o.clock, logger: o.logger });
    const serviceBindingApiInstalled = async (namespace: string) => {
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
    const smDeps = {
      getSecretData: async (namespace: string, name: string) => {
        const secret = await o.kube.getSecret(namespace, name);
        return secret === undefined ? undefined : decodeSecretData(secret);
      },
      defaultCredentials: o.defaultSmCredentials,
      sessions: new ServiceManagerSessions(
        o.serviceManager,
        o.releaseServiceManager ?? (async (port: ServiceManagerPort) => port.close()),
      ),
    };
    this.#queue = new WorkQueue({
      clock: o.clock,
      concurrency: o.concurrency,
      resyncMs: o.resyncMs,
      logger: o.logger,
      ...(o.onResult ? { onResult: o.onResult } : {}),
      handler: async (key) => {
        const action = await reconcileCertificate(key, {
          clock: o.clock,
          logger: o.logger,
          kube: o.kube,
          events,
          dependencies: this.#dependencies,
          sm: smDeps,
          tokens: o.tokens,
          failpoints: o.failpoints ?? noFailpoints,
          caches: {
            certificate: (ns, name) => this.#find(this.#certificates, ns, name),
            serviceBinding: async (ns, name): Promise<ServiceBindingLookup> => {
              const informer = this.#informerFor(this.#serviceBindings, ns);
              const found = (object: unknown): ServiceBindingLookup =>
                object === undefined ? { kind: 'absent' } : { kind: 'found', object };
              if (informer?.hasSynced()) return found(informer.get(ns, name));
              // Not synced: either starting up, or the CRD is not installed (yet).
              if (!(await serviceBindingApiInstalled(ns))) return { kind: 'api-missing' };
              return found(
                await o.kube.getObject(
                  `${SERVICE_BINDING_GROUP}/${SERVICE_BINDING_VERSION}`,
                  'ServiceBinding',
                  ns,
                  name,
                ),
              );
            },
          },
        });
        // A BTPCertificate that is gone needs no resync: drop its key, and what is kept for it
        // (it may have gone while this run was in progress: forgetting the key drops the rerun
        // its delete event asked for).
        const [ns = '', name = ''] = key.split('/');
        if (this.#find(this.#certificates, ns, name) === undefined) {
          await forgetCertificate(key, { dependencies: this.#dependencies, tokens: o.tokens });
          this.#queue.forget(key);
        }
        return action;
      },
    });

    for (const inf of this.#certificates) inf.onChange((obj) => this.#queue.add(keyOf(obj)));
    for (const inf of this.#managedSecrets) {
      inf.onChange((secret) => {
        const owner = secret.metadata?.ownerReferences?.find(
          (r) => r.controller === true && r.kind === 'BTPCertificate',
        );
        if (owner !== undefined) this.#queue.add(`${secret.metadata?.namespace ?? ''}/${owner.name}`);
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

  /** A Secret this operator manages, from its cache. */
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
    this.#queue.start();
    this.#log.info('controller started');
  }

  async stop(): Promise<void> {
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
