// Small helpers for integration tests against the real control plane.
import { randomBytes } from 'node:crypto';
import { ApiException, CoreV1Api, KubeConfig } from '@kubernetes/client-node';
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

/**
 * A namespace for the enclosing describe block (or file): its name is known at once, it is
 * created before the first test and deleted (without waiting) after the last one.
 */
export function testNamespace(kc: KubeConfig, prefix = 'test'): string {
  const core = kc.makeApiClient(CoreV1Api);
  const name = `${prefix}-${uniqueSuffix()}`;
  beforeAll(() => createNamed(core, name));
  afterAll(() => deleteIfPresent(core, name));
  return name;
}
