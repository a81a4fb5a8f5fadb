// Applies YAML manifests (a folder such as the project's crds/, or files such as deploy/rbac.yaml)
// by server-side apply and waits until every CustomResourceDefinition among them is Established
// (its API is then served).
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  ApiextensionsV1Api,
  type KubeConfig,
  type KubernetesObject,
  KubernetesObjectApi,
  loadAllYaml,
  PatchStrategy,
} from '@kubernetes/client-node';
import { waitFor } from './wait.ts';

export const FIELD_MANAGER = 'btpcerts-test-harness';

interface Manifest {
  readonly source: string;
  readonly object: KubernetesObject & { apiVersion: string; kind: string; metadata: { name: string } };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function parseManifest(value: unknown, source: string): Manifest {
  if (!isObject(value)) throw new Error(`${source}: a document is not an object`);
  const { apiVersion, kind, metadata } = value;
  if (typeof apiVersion !== 'string' || typeof kind !== 'string') {
    throw new Error(`${source}: a document has no apiVersion/kind`);
  }
  if (!isObject(metadata) || typeof metadata.name !== 'string') {
    throw new Error(`${source}: ${kind} has no metadata.name`);
  }
  return { source, object: { ...value, apiVersion, kind, metadata: { ...metadata, name: metadata.name } } };
}

async function readManifests(dir: string): Promise<Manifest[]> {
  // kustomization.yaml lists the folder for kustomize (deploy/ includes crds/); it is no object.
  const files = (await readdir(dir))
    .filter((f) => (f.endsWith('.yaml') || f.endsWith('.yml')) && f !== 'kustomization.yaml')
    .sort();
  return readManifestFiles(files.map((file) => join(dir, file)));
}

async function readManifestFiles(sources: readonly string[]): Promise<Manifest[]> {
  const manifests: Manifest[] = [];
  for (const source of sources) {
    const documents: unknown[] = loadAllYaml(await readFile(source, 'utf8'));
    for (const document of documents) {
      if (document === null || document === undefined) continue;
      manifests.push(parseManifest(document, source));
    }
  }
  return manifests;
}

function isEstablished(crd: unknown): boolean {
  if (!isObject(crd) || !isObject(crd.status) || !Array.isArray(crd.status.conditions)) return false;
  return crd.status.conditions.some(
    (c: unknown) => isObject(c) && c.type === 'Established' && c.status === 'True',
  );
}

const CRD_KIND = 'CustomResourceDefinition';

/**
 * Server-side applies every manifest of `dir` (CRDs first) and waits until each CRD is
 * Established. Returns the names of the CRDs.
 */
export async function applyManifestDir(kc: KubeConfig, dir: string, timeoutMs = 60_000): Promise<string[]> {
  return applyManifests(kc, await readManifests(dir), timeoutMs);
}

/** Server-side applies the manifests of these files, in order (CRDs first). */
export async function applyManifestFiles(kc: KubeConfig, files: readonly string[]): Promise<void> {
  await applyManifests(kc, await readManifestFiles(files));
}

/** Deletes what these files hold (what is not there is skipped). */
export async function deleteManifestFiles(kc: KubeConfig, files: readonly string[]): Promise<void> {
  const objects = KubernetesObjectApi.makeApiClient(kc);
  for (const manifest of (await readManifestFiles(files)).reverse()) {
    try {
      await objects.delete(manifest.object);
    } catch (error) {
      if (!isObject(error) || error.code !== 404) throw error;
    }
  }
}

async function applyManifests(
  kc: KubeConfig,
  manifests: readonly Manifest[],
  timeoutMs = 60_000,
): Promise<string[]> {
  const ordered = [
    ...manifests.filter((m) => m.object.kind === CRD_KIND),
    ...manifests.filter((m) => m.object.kind !== CRD_KIND),
  ];
  const objects = KubernetesObjectApi.makeApiClient(kc);
  for (const manifest of ordered) {
    try {
      await objects.patch(
        manifest.object,
        undefined,
        undefined,
        FIELD_MANAGER,
        true,
        PatchStrategy.ServerSideApply,
      );
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      throw new Error(
        `applying ${manifest.object.kind} ${manifest.object.metadata.name} from ${manifest.source}: ${message}`,
      );
    }
  }
  const extensions = kc.makeApiClient(ApiextensionsV1Api);
  const crdNames = ordered.filter((m) => m.object.kind === CRD_KIND).map((m) => m.object.metadata.name);
  await Promise.all(
    crdNames.map((name) =>
      waitFor(async () => isEstablished(await extensions.readCustomResourceDefinition({ name })), {
        description: `CRD ${name} to be Established`,
        timeoutMs,
      }),
    ),
  );
  return crdNames;
}
