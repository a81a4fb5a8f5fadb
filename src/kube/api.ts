// The client-node boundary for the controller: typed reads and writes of the few objects it
// touches. Everything that talks to the Kubernetes API goes through here.
import {
  CoreV1Api,
  CustomObjectsApi,
  type KubeConfig,
  type KubernetesObject,
  KubernetesObjectApi,
  PatchStrategy,
  setHeaderOptions,
  type V1Secret,
} from '@kubernetes/client-node';
import { API_VERSION, GROUP, KIND, PLURAL, VERSION } from '../api/schema.ts';
import { isRecord } from '../runtime/is-record.ts';
import { kubeError, statusOf } from './errors.ts';

export const FIELD_MANAGER = 'btp-cert-operator';

export type KubeApi = {
  readonly getSecret: (namespace: string, name: string) => Promise<V1Secret | undefined>;
  /** Any namespaced object by apiVersion and kind; undefined when it does not exist. */
  readonly getObject: (apiVersion: string, kind: string, namespace: string, name: string) => Promise<unknown>;
  /**
   * Writes a Secret only if it is still as it was read: `absent` creates it (409 when someone
   * created it since); a resourceVersion applies it server-side with our one field manager (`force`
   * takes back fields someone else edited), 409 when it changed since. A Secret someone else
   * created or replaced between the read and the write is never overwritten.
   */
  readonly applySecret: (secret: V1Secret, read: SecretRead) => Promise<V1Secret>;
  /** Sets metadata.finalizers, failing with 409 when the object changed since `resourceVersion`. */
  readonly setCertificateFinalizers: (
    namespace: string,
    name: string,
    finalizers: readonly string[],
    resourceVersion: string,
  ) => Promise<void>;
  /**
   * Merge-patches the status (null removes a field, at any depth); nothing else of the object.
   * Returns the new resourceVersion.
   */
  readonly patchCertificateStatus: (namespace: string, name: string, patch: StatusPatch) => Promise<string>;
  /** The BTPCertificates of a namespace, listed by the API server (a consistent read, not a cache). */
  readonly listCertificates: (namespace: string) => Promise<readonly unknown[]>;
  /**
   * Sets metadata.finalizers of a Secret and some of its labels (null removes one), failing with
   * 409 when it changed since `resourceVersion`.
   */
  readonly setSecretFinalizers: (
    namespace: string,
    name: string,
    finalizers: readonly string[],
    labels: Readonly<Record<string, string | null>>,
    resourceVersion: string,
  ) => Promise<void>;
  /** The names of the Secrets of a namespace that match a label selector. */
  readonly listSecretNames: (namespace: string, labelSelector: string) => Promise<readonly string[]>;
  readonly annotate: (
    ref: { apiVersion: string; kind: string; namespace: string; name: string },
    annotations: Record<string, string | null>,
  ) => Promise<void>;
  /** Creates a core/v1 Event; returns its name. */
  readonly createEvent: (event: EventBody) => Promise<string>;
  /** Counts a repeat on an Event: its count, lastTimestamp and latest message. */
  readonly updateEventSeries: (
    namespace: string,
    name: string,
    series: { readonly count: number; readonly lastTimestamp: Date; readonly message: string },
  ) => Promise<void>;
};

/** What the write of a Secret is conditional on: what its read found. */
export type SecretRead = 'absent' | { readonly resourceVersion: string };

/** A JSON merge patch of a BTPCertificate's status. */
export type StatusPatch = Readonly<Record<string, unknown>>;

export type EventBody = {
  readonly namespace: string;
  readonly involved: { readonly name: string; readonly uid: string; readonly resourceVersion?: string };
  readonly type: 'Normal' | 'Warning';
  readonly reason: string;
  readonly message: string;
  readonly count: number;
  readonly firstTimestamp: Date;
  readonly lastTimestamp: Date;
};

export function kubeApi(kc: KubeConfig): KubeApi {
  const core = kc.makeApiClient(CoreV1Api);
  const custom = kc.makeApiClient(CustomObjectsApi);
  const objects = KubernetesObjectApi.makeApiClient(kc);
  const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
  const jsonPatch = setHeaderOptions('Content-Type', PatchStrategy.JsonPatch);

  /**
   * Creates a Secret (409 when it exists), then records its fields as applied by our field manager,
   * as server-side apply would have: a create records them as an Update, which later applies do not
   * remove, so a key or label the desired Secret drops would stay forever. The conversion carries
   * the created resourceVersion; if the Secret changed meanwhile it is left as created.
   */
  async function createAsApplied(secret: V1Secret): Promise<V1Secret> {
    const namespace = secret.metadata?.namespace ?? '';
    const created = await core.createNamespacedSecret({
      namespace,
      body: secret,
      fieldManager: FIELD_MANAGER,
    });
    const managed = created.metadata?.managedFields ?? [];
    try {
      return await core.patchNamespacedSecret(
        {
          namespace,
          name: created.metadata?.name ?? '',
          fieldManager: FIELD_MANAGER,
          body: [
            { op: 'test', path: '/metadata/resourceVersion', value: created.metadata?.resourceVersion },
            {
              op: 'replace',
              path: '/metadata/managedFields',
              value: managed.map((f) =>
                f.manager === FIELD_MANAGER && f.operation === 'Update' ? { ...f, operation: 'Apply' } : f,
              ),
            },
          ],
        },
        jsonPatch,
      );
    } catch (e) {
      if (statusOf(e) === 409 || statusOf(e) === 422) return created;
      throw e;
    }
  }

  return {
    async getSecret(namespace, name) {
      try {
        return await core.readNamespacedSecret({ namespace, name });
      } catch (e) {
        if (statusOf(e) === 404) return undefined;
        throw kubeError(e, `reading Secret ${namespace}/${name}`);
      }
    },
    async getObject(apiVersion, kind, namespace, name) {
      try {
        return await objects.read({ apiVersion, kind, metadata: { namespace, name } });
      } catch (e) {
        if (statusOf(e) === 404) return undefined;
        throw kubeError(e, `reading ${kind} ${namespace}/${name}`);
      }
    },
    async applySecret(secret, read) {
      try {
        if (read === 'absent') return await createAsApplied(secret);
        return await objects.patch(
          { ...secret, metadata: { ...secret.metadata, resourceVersion: read.resourceVersion } },
          undefined,
          undefined,
          FIELD_MANAGER,
          true,
          PatchStrategy.ServerSideApply,
        );
      } catch (e) {
        throw kubeError(e, `applying Secret ${secret.metadata?.namespace}/${secret.metadata?.name}`);
      }
    },
    async setCertificateFinalizers(namespace, name, finalizers, resourceVersion) {
      try {
        await custom.patchNamespacedCustomObject(
          {
            group: GROUP,
            version: VERSION,
            namespace,
            plural: PLURAL,
            name,
            body: { metadata: { finalizers: [...finalizers], resourceVersion } },
          },
          mergePatch,
        );
      } catch (e) {
        throw kubeError(e, `setting finalizers of ${KIND} ${namespace}/${name}`);
      }
    },
    async patchCertificateStatus(namespace, name, patch) {
      try {
        const patched: unknown = await custom.patchNamespacedCustomObjectStatus(
          { group: GROUP, version: VERSION, namespace, plural: PLURAL, name, body: { status: patch } },
          mergePatch,
        );
        const meta = isRecord(patched) && isRecord(patched.metadata) ? patched.metadata : {};
        return typeof meta.resourceVersion === 'string' ? meta.resourceVersion : '';
      } catch (e) {
        throw kubeError(e, `patching status of ${KIND} ${namespace}/${name}`);
      }
    },
    async listCertificates(namespace) {
      try {
        const list: unknown = await custom.listNamespacedCustomObject({
          group: GROUP,
          version: VERSION,
          namespace,
          plural: PLURAL,
        });
        return isRecord(list) && Array.isArray(list.items) ? list.items : [];
      } catch (e) {
        throw kubeError(e, `listing ${KIND}s in ${namespace}`);
      }
    },
    async setSecretFinalizers(namespace, name, finalizers, labels, resourceVersion) {
      try {
        await core.patchNamespacedSecret(
          {
            namespace,
            name,
            body: { metadata: { finalizers: [...finalizers], labels, resourceVersion } },
          },
          mergePatch,
        );
      } catch (e) {
        throw kubeError(e, `setting finalizers of Secret ${namespace}/${name}`);
      }
    },
    async listSecretNames(namespace, labelSelector) {
      try {
        const list = await core.listNamespacedSecret({ namespace, labelSelector });
        return list.items.flatMap((s) => (s.metadata?.name === undefined ? [] : [s.metadata.name]));
      } catch (e) {
        throw kubeError(e, `listing Secrets in ${namespace}`);
      }
    },
    async annotate(ref, annotations) {
      const [group, version] = ref.apiVersion.includes('/')
        ? ref.apiVersion.split('/')
        : ['', ref.apiVersion];
      try {
        // A null value removes the annotation (JSON merge patch), which the typed metadata cannot express.
        const body = {
          apiVersion: ref.apiVersion,
          kind: ref.kind,
          metadata: { namespace: ref.namespace, name: ref.name, annotations },
        } as unknown as KubernetesObject;
        await objects.patch(body, undefined, undefined, FIELD_MANAGER, undefined, PatchStrategy.MergePatch);
      } catch (e) {
        throw kubeError(
          e,
          `annotating ${ref.kind} ${ref.namespace}/${ref.name} (${group || 'core'}/${version})`,
        );
      }
    },
    async createEvent(ev) {
      try {
        const created = await core.createNamespacedEvent({
          namespace: ev.namespace,
          body: {
            metadata: { generateName: `${ev.involved.name}.`, namespace: ev.namespace },
            involvedObject: {
              apiVersion: API_VERSION,
              kind: KIND,
              name: ev.involved.name,
              namespace: ev.namespace,
              uid: ev.involved.uid,
              ...(ev.involved.resourceVersion ? { resourceVersion: ev.involved.resourceVersion } : {}),
            },
            type: ev.type,
            reason: ev.reason,
            message: ev.message,
            count: ev.count,
            firstTimestamp: ev.firstTimestamp,
            lastTimestamp: ev.lastTimestamp,
            source: { component: FIELD_MANAGER },
            reportingComponent: FIELD_MANAGER,
            reportingInstance: FIELD_MANAGER,
          },
        });
        return created.metadata?.name ?? '';
      } catch (e) {
        throw kubeError(e, `creating Event for ${KIND} ${ev.namespace}/${ev.involved.name}`);
      }
    },
    async updateEventSeries(namespace, name, series) {
      try {
        await core.patchNamespacedEvent(
          {
            namespace,
            name,
            body: { count: series.count, lastTimestamp: series.lastTimestamp, message: series.message },
          },
          mergePatch,
        );
      } catch (e) {
        throw kubeError(e, `updating Event ${namespace}/${name}`);
      }
    },
  };
}
