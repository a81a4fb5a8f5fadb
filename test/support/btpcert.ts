// Helpers for integration tests of BTPCertificates: create, read, wait for a condition, read the
// Secret it wrote.
import { CoreV1Api, CustomObjectsApi, type KubeConfig, type V1Secret } from '@kubernetes/client-node';
import type { BTPCertificate, BTPCertificateSpec, Condition } from '../../src/api/types.ts';
import { waitFor } from './kube.ts';

const G = { group: 'btpcerts.io', version: 'v1alpha1', plural: 'btpcertificates' } as const;

export class Certificates {
  readonly #custom: CustomObjectsApi;
  readonly #core: CoreV1Api;
  readonly namespace: string;
  readonly #defaults: Partial<BTPCertificateSpec>;

  /** `defaults` go into every spec this helper creates (a spec's own fields win). */
  constructor(kc: KubeConfig, namespace: string, defaults: Partial<BTPCertificateSpec> = {}) {
    this.#custom = kc.makeApiClient(CustomObjectsApi);
    this.#core = kc.makeApiClient(CoreV1Api);
    this.namespace = namespace;
    this.#defaults = defaults;
  }

  async create(
    name: string,
    spec: BTPCertificateSpec,
    labels: Record<string, string> = {},
  ): Promise<BTPCertificate> {
    return (await this.#custom.createNamespacedCustomObject({
      ...G,
      namespace: this.namespace,
      body: {
        apiVersion: 'btpcerts.io/v1alpha1',
        kind: 'BTPCertificate',
        metadata: { name, labels },
        spec: { ...this.#defaults, ...spec },
      },
    })) as BTPCertificate;
  }

  async get(name: string): Promise<BTPCertificate> {
    return (await this.#custom.getNamespacedCustomObject({
      ...G,
      namespace: this.namespace,
      name,
    })) as BTPCertificate;
  }

  async delete(name: string): Promise<void> {
    await this.#custom.deleteNamespacedCustomObject({ ...G, namespace: this.namespace, name });
  }

  async annotate(name: string, annotations: Record<string, string>): Promise<void> {
    const { PatchStrategy, setHeaderOptions } = await import('@kubernetes/client-node');
    await this.#custom.patchNamespacedCustomObject(
      { ...G, namespace: this.namespace, name, body: { metadata: { annotations } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
  }

  /** Deletes it and waits until it is gone (its finalizer, if any, has run). */
  async deleteAndWait(name: string, timeoutMs = 60_000): Promise<void> {
    await this.delete(name).catch(() => {});
    await waitFor(
      async () => {
        try {
          await this.get(name);
          return false;
        } catch (e) {
          return (e as { code?: number }).code === 404;
        }
      },
      { timeoutMs, description: `${this.namespace}/${name} gone` },
    );
  }

  /** A merge patch of the whole object (metadata and spec), as a namespace user may send one. */
  async patch(name: string, body: Record<string, unknown>): Promise<void> {
    const { PatchStrategy, setHeaderOptions } = await import('@kubernetes/client-node');
    await this.#custom.patchNamespacedCustomObject(
      { ...G, namespace: this.namespace, name, body },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
  }

  async patchSpec(name: string, spec: Partial<BTPCertificateSpec>): Promise<void> {
    const { PatchStrategy, setHeaderOptions } = await import('@kubernetes/client-node');
    await this.#custom.patchNamespacedCustomObject(
      { ...G, namespace: this.namespace, name, body: { spec } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
  }

  /** Waits until the condition has the status (and reason, if given) for the current generation. */
  async waitForCondition(
    name: string,
    type: string,
    expected: { status: string; reason?: string },
    timeoutMs = 60_000,
  ): Promise<BTPCertificate> {
    let last: Condition | undefined;
    const want = `${this.namespace}/${name} ${type}=${expected.status}${expected.reason ? `/${expected.reason}` : ''}`;
    try {
      return await waitFor(
        async () => {
          const cert = await this.get(name);
          last = cert.status?.conditions?.find((c) => c.type === type);
          const current = cert.status?.observedGeneration === cert.metadata.generation;
          const ok =
            current &&
            last?.status === expected.status &&
            (expected.reason === undefined || last.reason === expected.reason);
          return ok ? cert : undefined;
        },
        { timeoutMs, description: want },
      );
    } catch (e) {
      const seen = last ? `${last.status}/${last.reason}: ${last.message}` : 'no such condition';
      throw new Error(`${e instanceof Error ? e.message : String(e)} (last seen: ${seen})`);
    }
  }

  async secret(name: string): Promise<V1Secret | undefined> {
    try {
      return await this.#core.readNamespacedSecret({ namespace: this.namespace, name });
    } catch (e) {
      if ((e as { code?: number }).code === 404) return undefined;
      throw e;
    }
  }

  async events(name: string): Promise<{ type: string; reason: string; message: string }[]> {
    const list = await this.#core.listNamespacedEvent({
      namespace: this.namespace,
      fieldSelector: `involvedObject.name=${name},involvedObject.kind=BTPCertificate`,
    });
    return list.items.map((e) => ({ type: e.type ?? '', reason: e.reason ?? '', message: e.message ?? '' }));
  }
}

export const decoded = (secret: V1Secret | undefined, key: string): string | undefined => {
  const v = secret?.data?.[key];
  return v === undefined ? undefined : Buffer.from(v, 'base64').toString('utf8');
};

/** A serviceManager source: the simulator's xsuaa instance, through the access Secret sm-access,
 * one-day x509 certificates; `extra` overrides any of it. */
export const smSource = (extra: Record<string, unknown> = {}) => ({
  serviceManager: {
    credentialsSecretRef: { name: 'sm-access' },
    serviceInstanceName: 'xsuaa-application',
    x509: { keyLength: 2048 as const, validity: 1, validityType: 'DAYS' as const },
    ...extra,
  },
});
