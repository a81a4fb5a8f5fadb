// Small helpers for integration tests against the real control plane.
import { randomBytes } from 'node:crypto';
import {
  ApiException,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  PatchStrategy,
  setHeaderOptions,
} from '@kubernetes/client-node';
import { afterAll, beforeAll } from 'vitest';
import { type WaitOptions, waitFor } from './control-plane/wait.ts';

export { type WaitOptions, waitFor };

export function kubeConfigFromFile(path: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromFile(path);
  return kc;
}

/** A random DNS-1123 label suffix. */
export function uniqueSuffix(): string {
  return randomBytes(4).toString('hex');
}

export interface ApiError {
  readonly code: number;
  /** The Status message of the API server (e.g. the schema validation details). */
  readonly message: string;
  /** The Status reason (e.g. "Invalid", "NotFound"), if any. */
  readonly reason: string | undefined;
}

/** The HTTP status and Status message of a failed client-node call; undefined for other errors. */
export function apiError(error: unknown): ApiError | undefined {
  if (!(error instanceof ApiException)) return undefined;
  const { code } = error;
  const raw: unknown = error.body;
  let status: unknown = raw;
  if (typeof raw === 'string') {
    try {
      status = JSON.parse(raw);
    } catch {
      status = undefined;
    }
  }
  if (typeof status === 'object' && status !== null && !Array.isArray(status)) {
    const message = 'message' in status && typeof status.message === 'string' ? status.message : '';
    const reason = 'reason' in status && typeof status.reason === 'string' ? status.reason : undefined;
    return { code, message, reason };
  }
  return { code, message: typeof raw === 'string' ? raw : error.message, reason: undefined };
}

export function isNotFound(error: unknown): boolean {
  return apiError(error)?.code === 404;
}

/** Resolves true once `read` fails with 404 (for `waitFor`); rethrows other errors. */
export async function isGone(read: () => Promise<unknown>): Promise<boolean> {
  try {
    await read();
    return false;
  } catch (error) {
    if (isNotFound(error)) return true;
    throw error;
  }
}

const TEST_NAMESPACE_LABEL = 'btpcerts.io/test-namespace';

async function createNamed(core: CoreV1Api, name: string): Promise<void> {
  await core.createNamespace({ body: { metadata: { name, labels: { [TEST_NAMESPACE_LABEL]: 'true' } } } });
}

async function deleteIfPresent(core: CoreV1Api, name: string): Promise<void> {
  try {
    await core.deleteNamespace({ name });
  } catch (error) {
    if (!isNotFound(error)) throw error;
  }
}

/** Creates a uniquely named namespace; `delete()` deletes it without waiting for it to go. */
export async function createNamespace(
  kc: KubeConfig,
  prefix = 'test',
): Promise<{ readonly name: string; delete(): Promise<void> }> {
  const core = kc.makeApiClient(CoreV1Api);
  const name = `${prefix}-${uniqueSuffix()}`;
  await createNamed(core, name);
  return { name, delete: () => deleteIfPresent(core, name) };
}

/** The operator's finalizers: on BTPCertificates (bindings) and on Service Manager access Secrets. */
const OPERATOR_FINALIZERS = new Set(['btpcerts.io/service-bindings', 'btpcerts.io/in-use']);

/**
 * Deletes a namespace whose operator is gone (the file's operator stops before this runs), and
 * takes the operator's finalizers off what is in it: nobody is left to release them, and a
 * namespace that stays Terminating for the rest of the run keeps the namespace controller
 * listing it, which later files that count API requests would see.
 */
async function abandon(kc: KubeConfig, name: string): Promise<void> {
  const core = kc.makeApiClient(CoreV1Api);
  const custom = kc.makeApiClient(CustomObjectsApi);
  await deleteIfPresent(core, name);
  const release = (finalizers: readonly string[] | undefined) =>
    finalizers?.some((f) => OPERATOR_FINALIZERS.has(f))
      ? finalizers.filter((f) => !OPERATOR_FINALIZERS.has(f))
      : undefined;
  const certificates = (await custom.listNamespacedCustomObject({
    group: 'btpcerts.io',
    version: 'v1alpha1',
    namespace: name,
    plural: 'btpcertificates',
  })) as { items: { metadata: { name: string; finalizers?: string[] } }[] };
  for (const c of certificates.items) {
    const finalizers = release(c.metadata.finalizers);
    if (finalizers === undefined) continue;
    await custom
      .patchNamespacedCustomObject(
        {
          group: 'btpcerts.io',
          version: 'v1alpha1',
          namespace: name,
          plural: 'btpcertificates',
          name: c.metadata.name,
          body: { metadata: { finalizers } },
        },
        mergePatch,
      )
      .catch(ignoreNotFound);
  }
  for (const secret of (await core.listNamespacedSecret({ namespace: name })).items) {
    const finalizers = release(secret.metadata?.finalizers);
    if (finalizers === undefined) continue;
    await core
      .patchNamespacedSecret(
        { namespace: name, name: secret.metadata?.name ?? '', body: { metadata: { finalizers } } },
        mergePatch,
      )
      .catch(ignoreNotFound);
  }
}

const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

function ignoreNotFound(error: unknown): void {
  if (!isNotFound(error)) throw error;
}

/**
 * A namespace for the enclosing describe block (or file): its name is known at once, it is
 * created before the first test and deleted (without waiting) after the last one, with the
 * operator's finalizers taken off what is left in it.
 */
export function testNamespace(kc: KubeConfig, prefix = 'test'): string {
  const core = kc.makeApiClient(CoreV1Api);
  const name = `${prefix}-${uniqueSuffix()}`;
  beforeAll(() => createNamed(core, name));
  afterAll(() => abandon(kc, name));
  return name;
}
