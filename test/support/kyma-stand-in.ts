// A small stand-in for the Kyma BTP operator (sap-btp-service-operator), for integration tests. It
// plays what that operator does to the Kubernetes objects our operator reads, as
// /work/shared/reference/btp.md section 5 describes it and its public source shows (v0.11.x; the
// behaviour is modelled here, none of its code is):
// - a ServiceBinding without a bindingID gets a binding (through `issue`, named after
//   spec.externalName) and its Secret, in the layout the ServiceBinding asks for (one key per field,
//   `secretKey`, or `secretRootKey`); then status.ready "True", Ready=True and Succeeded=True.
//   spec.externalName is required: there is no admission webhook to default it, so without it the
//   binding fails (Ready=False, Succeeded=False/CreateFailed).
// - rotation, when credentialsRotationPolicy.enabled and either the annotation
//   services.cloud.sap.com/forceRotate is present or rotationFrequency has passed since
//   status.lastCredentialsRotationTime, one step per reconcile as there (each status write brings
//   the next reconcile at once, so a rotation takes one pass of the loop):
//   CredRotationInProgress=True/Preparing; then the annotation is removed, the old binding is kept
//   as a stale ServiceBinding `<name>-<6 chars>` (labels services.cloud.sap.com/stale=<old binding
//   ID> and services.cloud.sap.com/rotationOf=<name>, owned by the original, its own Secret
//   `<secretName>-<6 chars>` with the old credentials), bindingID is reset, ready "False",
//   Succeeded=False/CreateInProgress, CredRotationInProgress=Rotating; then a new binding is created
//   and its credentials replace those in the same Secret; then lastCredentialsRotationTime moves and
//   CredRotationInProgress goes. Every step of a running rotation removes forceRotate, so one set
//   while a rotation runs is swallowed, as there.
// - a rotation is not started while Succeeded is False (the real one's IsFailed check), so a
//   forceRotate annotation waits there; Succeeded becomes True again when the spec changes (its
//   maintain step on a new generation).
// - `rateLimitNextRotation(name)`: the next rotation of that ServiceBinding meets a Service Manager
//   429 on the GET at the start of its last step, which leaves Succeeded=False/InProgress
//   ("Operation in progress") with Ready=True and status.ready "True"; the rotation then completes,
//   and Succeeded stays False until the spec changes.
// - a stale ServiceBinding older than its rotatedBindingTTL is deleted, with its Secret, once the
//   original is Ready (and `unbind` is called with its binding ID); until then it says
//   PendingTermination.
// Simplifications: the Service Manager side of a rotation (renaming the old binding to
// `<externalName>-<6 chars>`) is left to `issue`, which names bindings uniquely; rotationFrequency
// and rotatedBindingTTL default to the webhook's 72h and 48h when unset (the real operator without
// its webhook reads an empty duration as 0: rotation on every reconcile, backup deleted at once).
import { randomInt } from 'node:crypto';
import {
  CoreV1Api,
  CustomObjectsApi,
  type KubeConfig,
  PatchStrategy,
  setHeaderOptions,
} from '@kubernetes/client-node';
import { X509_PARAMETERS } from '../simulator/helpers.ts';

export type Issued = { readonly bindingID: string; readonly credentials: Record<string, unknown> };
export type Issue = (binding: {
  namespace: string;
  name: string;
  externalName: string;
  parameters: unknown;
}) => Promise<Issued>;
export type Unbind = (bindingID: string) => Promise<void>;

const API_VERSION = 'services.cloud.sap.com/v1';
const G = { group: 'services.cloud.sap.com', version: 'v1', plural: 'servicebindings' } as const;
export const FORCE_ROTATE = 'services.cloud.sap.com/forceRotate';
export const STALE_LABEL = 'services.cloud.sap.com/stale';
export const ROTATION_OF_LABEL = 'services.cloud.sap.com/rotationOf';
const ORIGINAL_NAME_ANNOTATION = 'services.cloud.sap.com/original-binding-name';
const DEFAULT_ROTATION_FREQUENCY = '72h';
const DEFAULT_ROTATED_BINDING_TTL = '48h';
const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

type Condition = {
  type: string;
  status: string;
  reason: string;
  message: string;
  lastTransitionTime?: string;
};
type Status = {
  bindingID?: string;
  instanceID?: string;
  ready?: string;
  observedGeneration?: number;
  lastCredentialsRotationTime?: string;
  conditions?: Condition[];
};
type SB = {
  metadata: {
    name: string;
    namespace: string;
    uid: string;
    generation?: number;
    creationTimestamp?: string | Date;
    annotations?: Record<string, string>;
    labels?: Record<string, string>;
  };
  spec: {
    serviceInstanceName: string;
    externalName?: string;
    secretName?: string;
    secretKey?: string;
    secretRootKey?: string;
    parameters?: unknown;
    credentialsRotationPolicy?: { enabled?: boolean; rotationFrequency?: string; rotatedBindingTTL?: string };
  };
  status?: Status;
};

/** A Go duration such as 72h, 1m30s or 500ms; undefined when it does not parse. */
export function goDurationMs(text: string): number | undefined {
  const units: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1000, ms: 1, us: 0.001, ns: 0.000001 };
  const parts = [...text.matchAll(/(\d+(?:\.\d+)?)(ms|us|ns|h|m|s)/g)];
  if (text === '' || parts.map((p) => p[0]).join('') !== text) return undefined;
  return parts.reduce((ms, [, value, unit]) => ms + Number(value) * (units[unit ?? ''] ?? 0), 0);
}

const secondsIso = (d: Date): string => d.toISOString().replace(/\.\d{3}Z$/, 'Z');
const findCondition = (s: Status | undefined, type: string) => s?.conditions?.find((c) => c.type === type);
const isTrue = (s: Status | undefined, type: string) => findCondition(s, type)?.status === 'True';
const withCondition = (conditions: readonly Condition[], c: Condition): Condition[] => [
  ...conditions.filter((x) => x.type !== c.type),
  c,
];
const randomSuffix = (): string =>
  Array.from({ length: 6 }, () => 'abcdefghijklmnopqrstuvwxyz1234567890'[randomInt(36)]).join('');

export class KymaStandIn {
  readonly #core: CoreV1Api;
  readonly #custom: CustomObjectsApi;
  readonly #namespace: string;
  readonly #issue: Issue;
  readonly #unbind: Unbind | undefined;
  readonly #rateLimited = new Set<string>();
  #timer: NodeJS.Timeout | undefined;
  #running = false;
  #busy: Promise<void> = Promise.resolve();
  /** Rotations, per ServiceBinding name, counted when the new credentials are in its Secret. */
  readonly rotations = new Map<string, number>();
  /** Names of the stale ServiceBindings created, and of those deleted after their TTL. */
  readonly staleCreated: string[] = [];
  readonly staleDeleted: string[] = [];
  /** Errors seen by the loop (tests assert there are none). */
  readonly errors: unknown[] = [];

  constructor(kc: KubeConfig, namespace: string, issue: Issue, options: { unbind?: Unbind } = {}) {
    this.#core = kc.makeApiClient(CoreV1Api);
    this.#custom = kc.makeApiClient(CustomObjectsApi);
    this.#namespace = namespace;
    this.#issue = issue;
    this.#unbind = options.unbind;
  }

  start(intervalMs = 250): void {
    this.#running = true;
    const tick = () => {
      if (!this.#running) return;
      this.#busy = this.#pass()
        .catch((e: unknown) => {
          this.errors.push(e);
        })
        .finally(() => {
          if (this.#running) this.#timer = setTimeout(tick, intervalMs);
        });
    };
    tick();
  }

  async stop(): Promise<void> {
    this.#running = false;
    clearTimeout(this.#timer);
    await this.#busy;
  }

  /** The next rotation of this ServiceBinding meets a Service Manager 429 in its last step. */
  rateLimitNextRotation(name: string): void {
    this.#rateLimited.add(name);
  }

  async #pass(): Promise<void> {
    const list = (await this.#custom.listNamespacedCustomObject({ ...G, namespace: this.#namespace })) as {
      items: SB[];
    };
    for (const listed of list.items) {
      // As the real one reconciles again on its own status writes: steps follow each other at once.
      let sb: SB | undefined = listed;
      for (let step = 0; sb !== undefined && step < 8 && (await this.#reconcile(sb, list.items)); step++)
        sb = await this.#read(sb.metadata.name);
    }
  }

  async #read(name: string): Promise<SB | undefined> {
    try {
      return (await this.#custom.getNamespacedCustomObject({ ...G, namespace: this.#namespace, name })) as SB;
    } catch (e) {
      ignore404(e);
      return undefined;
    }
  }

  /** One reconcile of one ServiceBinding: one step, as the real one takes; true: look again now. */
  async #reconcile(sb: SB, all: readonly SB[]): Promise<boolean> {
    const name = sb.metadata.name;
    const status: Status = sb.status ?? {};
    const generation = sb.metadata.generation ?? 1;
    const conditions = status.conditions ?? [];
    const rotation = findCondition(status, 'CredRotationInProgress');

    if (status.bindingID && rotation?.reason === 'Rotating' && this.#rateLimited.delete(name)) {
      // The GET of the binding in Service Manager answered 429: status written, retried later.
      await this.#setStatus(sb, {
        observedGeneration: generation,
        conditions: withCondition(withCondition(conditions, this.#ready(status.ready === 'True')), {
          type: 'Succeeded',
          status: 'False',
          reason: 'InProgress',
          message: 'Operation in progress',
        }),
      });
      return false;
    }

    if (rotation?.status === 'True') {
      if (sb.metadata.annotations?.[FORCE_ROTATE] !== undefined) {
        await this.#custom.patchNamespacedCustomObject(
          {
            ...G,
            namespace: this.#namespace,
            name,
            body: { metadata: { annotations: { [FORCE_ROTATE]: null } } },
          },
          mergePatch,
        );
      }
      if (rotation.reason === 'Rotating') {
        if (status.bindingID && status.ready === 'True') {
          return this.#setStatus(sb, {
            lastCredentialsRotationTime: secondsIso(new Date()),
            conditions: conditions.filter((c) => c.type !== 'CredRotationInProgress'),
          });
        }
        // Waiting for the new binding: created below.
      } else if (!status.bindingID) {
        return this.#setStatus(sb, {
          conditions: conditions.filter((c) => c.type !== 'CredRotationInProgress'),
        });
      } else {
        await this.#keepStaleBackup(sb, status.bindingID, all);
        return this.#setStatus(sb, {
          bindingID: '',
          ready: 'False',
          observedGeneration: generation,
          conditions: withCondition(
            withCondition(
              withCondition(conditions, {
                type: 'Succeeded',
                status: 'False',
                reason: 'CreateInProgress',
                message: 'rotating binding credentials',
              }),
              this.#ready(false),
            ),
            { type: 'CredRotationInProgress', status: 'True', reason: 'Rotating', message: '' },
          ),
        });
      }
    }

    if (isTrue(status, 'Ready') && status.bindingID) {
      if (sb.metadata.labels?.[STALE_LABEL] !== undefined) {
        await this.#handleStale(sb, all);
        return false;
      }
      const policy = sb.spec.credentialsRotationPolicy;
      const succeededFalse = findCondition(status, 'Succeeded')?.status === 'False';
      if (policy?.enabled === true && !succeededFalse) {
        const frequency = goDurationMs(policy.rotationFrequency ?? DEFAULT_ROTATION_FREQUENCY) ?? 0;
        const since = new Date(status.lastCredentialsRotationTime ?? sb.metadata.creationTimestamp ?? 0);
        const forced = sb.metadata.annotations?.[FORCE_ROTATE] !== undefined;
        if (forced || Date.now() - since.getTime() > frequency) {
          return this.#setStatus(sb, {
            conditions: withCondition(conditions, {
              type: 'CredRotationInProgress',
              status: 'True',
              reason: 'Preparing',
              message: '',
            }),
          });
        }
      }
      if (status.observedGeneration !== generation) {
        // Maintain: a new generation gets its Secret rewritten from the same binding (unchanged
        // here) and Succeeded=True.
        return this.#setStatus(sb, {
          observedGeneration: generation,
          conditions: withCondition(conditions, {
            type: 'Succeeded',
            status: 'True',
            reason: 'Updated',
            message: 'ServiceBinding updated successfully',
          }),
        });
      }
      return false;
    }

    if (status.bindingID) return false;
    const externalName = sb.spec.externalName;
    if (!externalName) {
      return this.#setStatus(sb, {
        ready: 'False',
        observedGeneration: generation,
        conditions: withCondition(withCondition(conditions, this.#ready(false)), {
          type: 'Succeeded',
          status: 'False',
          reason: 'CreateFailed',
          message:
            'spec.externalName is empty: no admission webhook defaulted it, and a binding needs a name',
        }),
      });
    }
    const issued = await this.#issue({
      namespace: this.#namespace,
      name,
      externalName,
      parameters: sb.spec.parameters,
    });
    await this.#writeSecret(sb, issued);
    if (rotation?.reason === 'Rotating') this.rotations.set(name, (this.rotations.get(name) ?? 0) + 1);
    return this.#setStatus(sb, {
      bindingID: issued.bindingID,
      instanceID: 'instance-1',
      ready: 'True',
      observedGeneration: generation,
      conditions: withCondition(withCondition(conditions, this.#ready(true)), {
        type: 'Succeeded',
        status: 'True',
        reason: 'Created',
        message: 'ServiceBinding provisioned successfully',
      }),
    });
  }

  #ready(ready: boolean): Condition {
    return ready
      ? { type: 'Ready', status: 'True', reason: 'Provisioned', message: '' }
      : { type: 'Ready', status: 'False', reason: 'NotProvisioned', message: '' };
  }

  /** The old binding survives as `<name>-<6 chars>` with its own Secret, owned by the original. */
  async #keepStaleBackup(sb: SB, bindingID: string, all: readonly SB[]): Promise<void> {
    if (all.some((other) => other.metadata.labels?.[STALE_LABEL] === bindingID)) return;
    const suffix = `-${randomSuffix()}`;
    const secretName = sb.spec.secretName ?? sb.metadata.name;
    const policy = sb.spec.credentialsRotationPolicy ?? {};
    const created = (await this.#custom.createNamespacedCustomObject({
      ...G,
      namespace: this.#namespace,
      body: {
        apiVersion: API_VERSION,
        kind: 'ServiceBinding',
        metadata: {
          name: sb.metadata.name + suffix,
          labels: { [STALE_LABEL]: bindingID, [ROTATION_OF_LABEL]: sb.metadata.name },
          annotations: { [ORIGINAL_NAME_ANNOTATION]: sb.metadata.name },
          ownerReferences: [this.#ownerOf(sb)],
        },
        spec: {
          ...sb.spec,
          credentialsRotationPolicy: { ...policy, enabled: false },
          secretName: secretName + suffix,
          externalName: (sb.spec.externalName ?? '') + suffix,
        },
      },
    })) as SB;
    this.staleCreated.push(created.metadata.name);
    // The real one recovers the renamed binding into it; the credentials are those of the old Secret.
    const old = await this.#core.readNamespacedSecret({ namespace: this.#namespace, name: secretName });
    await this.#core.createNamespacedSecret({
      namespace: this.#namespace,
      body: {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: secretName + suffix, ownerReferences: [this.#ownerOf(created)] },
        type: 'Opaque',
        data: old.data ?? {},
      },
    });
    const now = secondsIso(new Date());
    await this.#custom.patchNamespacedCustomObjectStatus(
      {
        ...G,
        namespace: this.#namespace,
        name: created.metadata.name,
        body: {
          status: {
            bindingID,
            instanceID: 'instance-1',
            ready: 'True',
            observedGeneration: created.metadata.generation ?? 1,
            conditions: [
              { ...this.#ready(true), lastTransitionTime: now },
              { type: 'Succeeded', status: 'True', reason: 'Created', message: '', lastTransitionTime: now },
            ],
          },
        },
      },
      mergePatch,
    );
  }

  async #handleStale(stale: SB, all: readonly SB[]): Promise<void> {
    const ttl =
      goDurationMs(stale.spec.credentialsRotationPolicy?.rotatedBindingTTL ?? DEFAULT_ROTATED_BINDING_TTL) ??
      0;
    const created = new Date(stale.metadata.creationTimestamp ?? 0).getTime();
    if (Date.now() - created <= ttl) return;
    const originalName =
      stale.metadata.annotations?.[ORIGINAL_NAME_ANNOTATION] ?? stale.metadata.labels?.[ROTATION_OF_LABEL];
    const original = all.find((sb) => sb.metadata.name === originalName);
    if (original !== undefined && !isTrue(original.status, 'Ready')) {
      await this.#setStatus(stale, {
        conditions: withCondition(stale.status?.conditions ?? [], {
          type: 'PendingTermination',
          status: 'True',
          reason: 'PendingTermination',
          message: 'waiting for new credentials to be ready',
        }),
      });
      return;
    }
    const secretName = stale.spec.secretName ?? stale.metadata.name;
    await this.#core
      .deleteNamespacedSecret({ namespace: this.#namespace, name: secretName })
      .catch(ignore404);
    await this.#custom
      .deleteNamespacedCustomObject({ ...G, namespace: this.#namespace, name: stale.metadata.name })
      .catch(ignore404);
    if (stale.status?.bindingID) await this.#unbind?.(stale.status.bindingID);
    this.staleDeleted.push(stale.metadata.name);
  }

  #ownerOf(sb: SB) {
    return {
      apiVersion: API_VERSION,
      kind: 'ServiceBinding',
      name: sb.metadata.name,
      uid: sb.metadata.uid,
      controller: true,
      blockOwnerDeletion: true,
    };
  }

  /**
   * Patches status when it changes (true when it did); a condition keeps its lastTransitionTime
   * unless its status flips.
   */
  async #setStatus(sb: SB, patch: Status): Promise<boolean> {
    const before = sb.status ?? {};
    const now = secondsIso(new Date());
    const conditions = patch.conditions?.map((c) => {
      const old = findCondition(before, c.type);
      return { ...c, lastTransitionTime: old?.status === c.status ? (old.lastTransitionTime ?? now) : now };
    });
    const next: Status = { ...before, ...patch, ...(conditions ? { conditions } : {}) };
    if (JSON.stringify(next) === JSON.stringify(before)) return false;
    await this.#custom.patchNamespacedCustomObjectStatus(
      { ...G, namespace: this.#namespace, name: sb.metadata.name, body: { status: next } },
      mergePatch,
    );
    return true;
  }

  async #writeSecret(sb: SB, issued: Issued): Promise<void> {
    const name = sb.spec.secretName ?? sb.metadata.name;
    const meta = {
      instance_name: sb.spec.serviceInstanceName,
      instance_guid: 'instance-1',
      plan: 'application',
      label: 'xsuaa',
      type: 'xsuaa',
      tags: '["xsuaa"]',
    };
    let data: Record<string, string>;
    if (sb.spec.secretRootKey !== undefined) {
      data = { [sb.spec.secretRootKey]: JSON.stringify({ ...issued.credentials, ...meta, tags: ['xsuaa'] }) };
    } else if (sb.spec.secretKey !== undefined) {
      data = { [sb.spec.secretKey]: JSON.stringify(issued.credentials), ...meta };
    } else {
      data = { ...meta };
      for (const [k, v] of Object.entries(issued.credentials))
        data[k] = typeof v === 'string' ? v : JSON.stringify(v);
      data['.metadata'] = JSON.stringify({
        credentialProperties: Object.keys(issued.credentials).map((n) => ({ name: n, format: 'text' })),
      });
    }
    const body = {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name, namespace: this.#namespace, ownerReferences: [this.#ownerOf(sb)] },
      type: 'Opaque',
      stringData: data,
    };
    try {
      await this.#core.readNamespacedSecret({ namespace: this.#namespace, name });
      await this.#core.replaceNamespacedSecret({
        namespace: this.#namespace,
        name,
        body: { ...body, data: {} },
      });
    } catch (e) {
      if ((e as { code?: number }).code !== 404) throw e;
      await this.#core.createNamespacedSecret({ namespace: this.#namespace, body });
    }
  }
}

function ignore404(e: unknown): void {
  if ((e as { code?: number }).code !== 404) throw e;
}

/**
 * Creates a ServiceBinding of the simulator's `xsuaa-application` instance that asks for x509
 * credentials, as a test's manifest would; `spec` fields win.
 */
export async function createServiceBinding(
  custom: CustomObjectsApi,
  namespace: string,
  name: string,
  spec: Record<string, unknown> = {},
): Promise<void> {
  await custom.createNamespacedCustomObject({
    ...G,
    namespace,
    body: {
      apiVersion: 'services.cloud.sap.com/v1',
      kind: 'ServiceBinding',
      metadata: { name },
      spec: { serviceInstanceName: 'xsuaa-application', parameters: X509_PARAMETERS, ...spec },
    },
  });
}
