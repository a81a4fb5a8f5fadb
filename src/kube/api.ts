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
  type V1ManagedFieldsEntry,
  type V1Secret,
} from '@kubernetes/client-node';
import { API_VERSION, GROUP, KIND, PLURAL, VERSION } from '../api/schema.ts';
import { isRecord } from '../runtime/is-record.ts';
import { KubeApiError, kubeError, statusOf } from './errors.ts';

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

/**
 * What the write of a Secret is conditional on: what its read found. `managedFields` as read: a
 * Secret we created still has its fields under an Update entry of ours, converted before the apply.
 */
export type SecretRead = 'absent' | ExistingRead;
type ExistingRead = {
  readonly resourceVersion: string;
  readonly managedFields?: readonly V1ManagedFieldsEntry[] | undefined;
};

/** What a Secret write is conditional on, from the Secret as read (undefined: not found). */
export function secretRead(secret: V1Secret | undefined): SecretRead {
  if (secret === undefined) return 'absent';
  return {
    resourceVersion: secret.metadata?.resourceVersion ?? '',
    managedFields: secret.metadata?.managedFields,
  };
}

const isOurUpdate = (f: V1ManagedFieldsEntry) =>
  f.manager === FIELD_MANAGER && f.operation === 'Update' && (f.subresource ?? '') === '';

/**
 * Our Update entry as an Apply entry; merged into our Apply entry when there is one (a Secret
 * whose conversion lost a race before and was applied since), so the manager stays one entry.
 */
function asApplied(managed: readonly V1ManagedFieldsEntry[]): V1ManagedFieldsEntry[] {
  const update = managed.find(isOurUpdate);
  const applied = managed.find((f) => f.manager === FIELD_MANAGER && f.operation === 'Apply');
  const others = managed.filter((f) => f !== update && f !== applied);
  if (update === undefined) return [...managed];
  if (applied === undefined) return [...others, { ...update, operation: 'Apply' }];
  return [...others, { ...applied, fieldsV1: unionOfFields(applied.fieldsV1, update.fieldsV1) }];
}

/** The union of two FieldsV1 sets (trees of `f:`/`k:`/`v:`/`i:` keys, `{}` at the leaves). */
function unionOfFields(a: unknown, b: unknown): object {
  const x = isRecord(a) ? a : {};
  const y = isRecord(b) ? b : {};
  const union: Record<string, unknown> = { ...x };
  for (const [k, v] of Object.entries(y)) union[k] = k in x ? unionOfFields(x[k], v) : v;
  return union;
}

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
   * Records the fields of our field manager's Update entry (what a create records) as applied,
   * as server-side apply would have: later applies do not remove fields of an Update entry, so a
   * key or label the desired Secret drops would stay forever. Done before the first apply to a
   * Secret we created, not right after the create (issue 11: one write less per issuance), with the
   * resourceVersion read as a precondition. Returns the resourceVersion to apply against.
   */
  async function ownAsApplied(namespace: string, name: string, read: ExistingRead): Promise<string> {
    const managed = read.managedFields ?? [];
    if (!managed.some(isOurUpdate)) return read.resourceVersion;
    try {
      const patched = await core.patchNamespacedSecret(
        {
          namespace,
          name,
          fieldManager: FIELD_MANAGER,
          body: [
            { op: 'test', path: '/metadata/resourceVersion', value: read.resourceVersion },
            { op: 'replace', path: '/metadata/managedFields', value: asApplied(managed) },
          ],
        },
        jsonPatch,
      );
      return patched.metadata?.resourceVersion ?? '';
    } catch (e) {
      // A failed test (the Secret changed since it was read) is a conflict, retried like a 409.
      if (statusOf(e) === 422) throw new KubeApiError(409, `owning Secret ${namespace}/${name}`, 'Conflict');
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
        const { namespace = '', name = '' } = secret.metadata ?? {};
        // A create records its fields under an Update entry; ownAsApplied converts it before the
        // first apply.
        if (read === 'absent')
          return await core.createNamespacedSecret({ namespace, body: secret, fieldManager: FIELD_MANAGER });
        const resourceVersion = await ownAsApplied(namespace, name, read);
        return await objects.patch(
          { ...secret, metadata: { ...secret.metadata, resourceVersion } },
          undefined,
          undefined,
          FIELD_MANAGER,
          true,
          PatchStrategy.ServerSideApply,
        );
      } catch (e) {
        if (e instanceof KubeApiError) throw e;
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
