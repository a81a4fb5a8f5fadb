// The shell of workload restarts (only with --workload-restarts): informers on the Deployments,
// StatefulSets and DaemonSets labelled btpcerts.io/restart-on-rotation=true (no other workload is
// listed or cached), woken by changes of those workloads and of the managed Secrets in their own
// namespace; patches what ./restart.ts decides.
import {
  AppsV1Api,
  type KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
  KubernetesObjectApi,
  PatchStrategy,
  type V1Secret,
} from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { DATA_HASH_ANNOTATION } from '../certificate/secret.ts';
import { kubeError, statusOf } from '../kube/errors.ts';
import { type ListSelectors, ResilientInformer } from '../kube/informer.ts';
import { type Action, awaitChange } from '../runtime/action.ts';
import type { Clock } from '../runtime/clock.ts';
import { WorkQueue } from '../runtime/queue.ts';
import {
  combinedHash,
  RESTART_ON_ROTATION_ANNOTATION,
  RESTART_ON_ROTATION_SELECTOR,
  secretNames,
  workloadPatch,
} from './restart.ts';

const KINDS = [
  { kind: 'Deployment', plural: 'deployments' },
  { kind: 'StatefulSet', plural: 'statefulsets' },
  { kind: 'DaemonSet', plural: 'daemonsets' },
] as const;
export type Kind = (typeof KINDS)[number]['kind'];

export type WorkloadControllerOptions = {
  readonly kubeConfig: KubeConfig;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly namespaces: readonly string[];
  /** The managed Secrets, as the certificate controller caches them. */
  readonly managedSecret: (namespace: string, name: string) => V1Secret | undefined;
  readonly onManagedSecretChange: (listener: (secret: V1Secret) => void) => void;
};

export class WorkloadController {
  readonly #informers = new Map<Kind, ResilientInformer<KubernetesObject>[]>();
  readonly #queue: WorkQueue;
  readonly #o: WorkloadControllerOptions;

  constructor(o: WorkloadControllerOptions) {
    this.#o = o;
    const apps = o.kubeConfig.makeApiClient(AppsV1Api);
    const objects = KubernetesObjectApi.makeApiClient(o.kubeConfig);
    const scopes: readonly (string | undefined)[] = o.namespaces.length === 0 ? [undefined] : o.namespaces;
    for (const { kind, plural } of KINDS) {
      const list =
        (ns: string | undefined) =>
        async (sel: ListSelectors): Promise<KubernetesListObject<KubernetesObject>> => {
          if (kind === 'Deployment')
            return ns
              ? apps.listNamespacedDeployment({ namespace: ns, ...sel })
              : apps.listDeploymentForAllNamespaces({ ...sel });
          if (kind === 'StatefulSet')
            return ns
              ? apps.listNamespacedStatefulSet({ namespace: ns, ...sel })
              : apps.listStatefulSetForAllNamespaces({ ...sel });
          return ns
            ? apps.listNamespacedDaemonSet({ namespace: ns, ...sel })
            : apps.listDaemonSetForAllNamespaces({ ...sel });
        };
      this.#informers.set(
        kind,
        scopes.map(
          (ns) =>
            new ResilientInformer<KubernetesObject>({
              kubeConfig: o.kubeConfig,
              clock: o.clock,
              logger: o.logger,
              name: `${plural}${ns ? `@${ns}` : ''}`,
              path: ns ? `/apis/apps/v1/namespaces/${ns}/${plural}` : `/apis/apps/v1/${plural}`,
              labelSelector: RESTART_ON_ROTATION_SELECTOR,
              list: list(ns),
            }),
        ),
      );
    }
    this.#queue = new WorkQueue({
      clock: o.clock,
      concurrency: 2,
      logger: o.logger,
      handler: (key) => this.#reconcile(key, objects),
    });
    for (const [kind, informers] of this.#informers) {
      for (const inf of informers) {
        inf.onChange((obj) => {
          if (obj.metadata?.annotations?.[RESTART_ON_ROTATION_ANNOTATION] !== undefined) {
            this.#queue.add(`${kind}/${obj.metadata.namespace ?? ''}/${obj.metadata.name ?? ''}`);
          }
        });
      }
    }
    // A Secret wakes only the workloads of its own namespace that name it.
    o.onManagedSecretChange((secret) => {
      const ns = secret.metadata?.namespace ?? '';
      const name = secret.metadata?.name ?? '';
      for (const [kind, informers] of this.#informers) {
        for (const inf of informers) {
          for (const w of inf.list(ns)) {
            if (secretNames(w.metadata?.annotations?.[RESTART_ON_ROTATION_ANNOTATION]).includes(name)) {
              this.#queue.add(`${kind}/${ns}/${w.metadata?.name ?? ''}`);
            }
          }
        }
      }
    });
  }

  /** Whether the informers hold this workload (tests: only labelled workloads are cached). */
  caches(kind: Kind, namespace: string, name: string): boolean {
    return (this.#informers.get(kind) ?? []).some((i) => i.get(namespace, name) !== undefined);
  }

  start(): void {
    for (const informers of this.#informers.values()) for (const i of informers) i.start();
    this.#queue.start();
  }

  async stop(): Promise<void> {
    await Promise.all([...this.#informers.values()].flat().map((i) => i.stop()));
    await this.#queue.stop();
  }

  async #reconcile(key: string, objects: KubernetesObjectApi): Promise<Action> {
    const [kind, ns = '', name = ''] = key.split('/') as [Kind, string, string];
    const scope = this.#o.namespaces.length === 0 ? 0 : this.#o.namespaces.indexOf(ns);
    const workload = this.#informers.get(kind)?.[scope]?.get(ns, name);
    const names = secretNames(workload?.metadata?.annotations?.[RESTART_ON_ROTATION_ANNOTATION]);
    if (workload === undefined || names.length === 0) {
      this.#queue.forget(key);
      return awaitChange();
    }
    const hash = combinedHash(
      names,
      (s) => this.#o.managedSecret(ns, s)?.metadata?.annotations?.[DATA_HASH_ANNOTATION],
    );
    const patch = workloadPatch(workload.metadata?.annotations ?? {}, hash, this.#o.clock.now());
    if (patch === undefined) return awaitChange();
    try {
      await objects.patch(
        {
          apiVersion: 'apps/v1',
          kind,
          metadata: { namespace: ns, name, ...patch.metadata },
          ...(patch.spec ? { spec: patch.spec } : {}),
        },
        undefined,
        undefined,
        'btp-cert-operator',
        undefined,
        PatchStrategy.MergePatch,
      );
    } catch (e) {
      if (statusOf(e) === 404) return awaitChange();
      throw kubeError(e, `patching ${kind} ${ns}/${name}`);
    }
    if (patch.spec !== undefined)
      this.#o.logger.info({ workload: key, secrets: names }, 'workload restarted after rotation');
    return awaitChange();
  }
}
