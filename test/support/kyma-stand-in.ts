// A small stand-in for the Kyma BTP operator (sap-btp-service-operator), for integration tests:
// for each ServiceBinding in a namespace it obtains credentials (from the BTP simulator, through
// `issue`), writes the binding's Secret in the layout the ServiceBinding asks for (one key per
// field, `secretKey`, or `secretRootKey`), marks the ServiceBinding Ready, and honours the
// `services.cloud.sap.com/forceRotate` annotation when rotation is enabled, as the real one does.
import {
  CoreV1Api,
  CustomObjectsApi,
  type KubeConfig,
  PatchStrategy,
  setHeaderOptions,
} from '@kubernetes/client-node';

export type Issued = { readonly bindingID: string; readonly credentials: Record<string, unknown> };
export type Issue = (binding: { namespace: string; name: string; parameters: unknown }) => Promise<Issued>;

const G = { group: 'services.cloud.sap.com', version: 'v1', plural: 'servicebindings' } as const;
const FORCE_ROTATE = 'services.cloud.sap.com/forceRotate';
const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

type SB = {
  metadata: { name: string; namespace: string; uid: string; annotations?: Record<string, string> };
  spec: {
    serviceInstanceName: string;
    secretName?: string;
    secretKey?: string;
    secretRootKey?: string;
    parameters?: unknown;
    credentialsRotationPolicy?: { enabled?: boolean };
  };
  status?: { bindingID?: string; ready?: string };
};

export class KymaStandIn {
  readonly #core: CoreV1Api;
  readonly #custom: CustomObjectsApi;
  readonly #namespace: string;
  readonly #issue: Issue;
  #timer: NodeJS.Timeout | undefined;
  #running = false;
  #busy: Promise<void> = Promise.resolve();
  /** Rotations performed, per ServiceBinding name. */
  readonly rotations = new Map<string, number>();
  /** Errors seen by the loop (tests assert there are none). */
  readonly errors: unknown[] = [];

  constructor(kc: KubeConfig, namespace: string, issue: Issue) {
    this.#core = kc.makeApiClient(CoreV1Api);
    this.#custom = kc.makeApiClient(CustomObjectsApi);
    this.#namespace = namespace;
    this.#issue = issue;
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

  async #pass(): Promise<void> {
    const list = (await this.#custom.listNamespacedCustomObject({ ...G, namespace: this.#namespace })) as {
      items: SB[];
    };
    for (const sb of list.items) {
      const rotate =
        sb.metadata.annotations?.[FORCE_ROTATE] === 'true' &&
        sb.spec.credentialsRotationPolicy?.enabled === true;
      if (sb.status?.bindingID !== undefined && !rotate) continue;
      const issued = await this.#issue({
        namespace: this.#namespace,
        name: sb.metadata.name,
        parameters: sb.spec.parameters,
      });
      await this.#writeSecret(sb, issued);
      if (rotate) {
        this.rotations.set(sb.metadata.name, (this.rotations.get(sb.metadata.name) ?? 0) + 1);
        await this.#custom.patchNamespacedCustomObject(
          {
            ...G,
            namespace: this.#namespace,
            name: sb.metadata.name,
            body: { metadata: { annotations: { [FORCE_ROTATE]: null } } },
          },
          mergePatch,
        );
      }
      const now = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
      await this.#custom.patchNamespacedCustomObjectStatus(
        {
          ...G,
          namespace: this.#namespace,
          name: sb.metadata.name,
          body: {
            status: {
              bindingID: issued.bindingID,
              instanceID: 'instance-1',
              ready: 'True',
              ...(rotate ? { lastCredentialsRotationTime: now } : {}),
              conditions: [
                {
                  type: 'Ready',
                  status: 'True',
                  reason: 'Provisioned',
                  message: '',
                  lastTransitionTime: now,
                },
                {
                  type: 'Succeeded',
                  status: 'True',
                  reason: 'Created',
                  message: '',
                  lastTransitionTime: now,
                },
              ],
            },
          },
        },
        mergePatch,
      );
    }
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
      metadata: {
        name,
        namespace: this.#namespace,
        ownerReferences: [
          {
            apiVersion: 'services.cloud.sap.com/v1',
            kind: 'ServiceBinding',
            name: sb.metadata.name,
            uid: sb.metadata.uid,
            controller: true,
          },
        ],
      },
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
