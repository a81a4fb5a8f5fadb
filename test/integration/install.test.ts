// The install, as an admin runs it: deploy/ rendered by the control plane's own `kubectl kustomize`
// (default load restrictor), alone and with each optional component under deploy/components/
// (whatever is there: a component added later is picked up), every other install folder of deploy/
// (a variant such as a namespaced install), and each result applied to the real
// API server by server-side apply: every object must be accepted. The Deployment's pods do not
// run (no scheduler, no kubelet), so its pod template is checked against the namespace's
// Pod Security level (restricted) by a server-side dry run of a Pod. Kinds the API server does not
// serve (monitoring.coreos.com) get stand-in CRDs that accept any content: for them this proves
// the rendering and the names, not their schema. deploy/argocd is rendered into a stand-in
// argocd-cm. And `kubectl explain` shows the CRD's descriptions.
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import { loadAllYaml } from '@kubernetes/client-node';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { REPO_ROOT } from '../support/control-plane/binaries.ts';
import { HEALTH_SCRIPT_PATH } from '../support/gitops/argocd-health.ts';
import { kubeConfigFromFile, testNamespace, waitFor } from '../support/kube.ts';

const run = promisify(execFile);
const kubectlPath = join(inject('kubeBinDir'), 'kubectl');
const kubeconfig = inject('kubeconfig');
const kc = kubeConfigFromFile(kubeconfig);
const DEPLOY = join(REPO_ROOT, 'deploy');
const COMPONENTS = join(DEPLOY, 'components');
const MANAGER = 'install-test';

type Obj = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
  spec?: Record<string, unknown>;
  data?: Record<string, string>;
};

async function kubectl(args: string[], stdin?: string): Promise<string> {
  const child = run(kubectlPath, ['--kubeconfig', kubeconfig, ...args], { maxBuffer: 32 * 1024 * 1024 });
  if (stdin !== undefined) {
    child.child.stdin?.end(stdin);
  }
  try {
    return (await child).stdout;
  } catch (e) {
    const err = e as { stderr?: string; message?: string };
    throw new Error(`kubectl ${args.join(' ')}: ${err.stderr ?? err.message}`);
  }
}

/** A kustomization of its own (inside the repository: kustomize takes relative paths only). */
async function overlay(text: (toRepo: string) => string): Promise<string> {
  const dir = await mkdtemp(join(REPO_ROOT, '.tmp', 'install-'));
  made.push(dir);
  await writeFile(join(dir, 'kustomization.yaml'), text(relative(dir, REPO_ROOT)));
  return dir;
}
const made: string[] = [];
/** The stand-in CRDs this file installed (deleted after it). */
const standIns: string[] = [];
/** Every object this file applied, to take away afterwards what the global setup did not install. */
const applied = new Map<string, Obj>();
const objectKey = (o: Obj) => `${o.apiVersion}/${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`;
afterAll(async () => {
  for (const dir of made) await rm(dir, { recursive: true, force: true });
  // The namespace btp-cert-operator, its ServiceAccount and deploy/rbac.yaml are the global setup's:
  // the operator of every later file authenticates as that ServiceAccount (deleting the namespace
  // made its token invalid, and every later file failed). Only what they do not hold goes: the
  // Deployment, the PodDisruptionBudget, a component's NetworkPolicy, and the workload-restarts
  // ClusterRole and binding, which would widen the operator's grants for later files.
  const kept = new Set(
    (
      await Promise.all(
        ['namespace.yaml', 'rbac.yaml'].map(async (f) =>
          loadAllYaml(await readFile(join(DEPLOY, f), 'utf8')),
        ),
      )
    )
      .flat()
      .map((o) => objectKey(o as Obj)),
  );
  for (const o of applied.values()) {
    if (kept.has(objectKey(o)) || o.kind === 'CustomResourceDefinition') continue;
    const ns = o.metadata.namespace === undefined ? [] : ['-n', o.metadata.namespace];
    await kubectl(['delete', resourceType(o), o.metadata.name, ...ns, '--ignore-not-found', '--wait=false']);
  }
  for (const crd of standIns) await kubectl(['delete', 'crd', crd, '--ignore-not-found', '--wait=false']);
});

async function render(dir: string): Promise<{ yaml: string; objects: Obj[] }> {
  const yaml = await kubectl(['kustomize', dir]);
  return { yaml, objects: loadAllYaml(yaml).filter((o): o is Obj => o !== null && typeof o === 'object') };
}

const apply = (yaml: string) =>
  kubectl(['apply', '--server-side', '--force-conflicts', `--field-manager=${MANAGER}`, '-f', '-'], yaml);

/** The optional components: every folder of deploy/components with a kustomization.yaml. */
const components = (await readdir(COMPONENTS, { withFileTypes: true }))
  .filter((d) => d.isDirectory())
  .map((d) => d.name)
  .sort();

/**
 * Other installs: every folder of deploy/ besides components/ whose kustomization.yaml is a
 * Kustomization (a variant such as a namespaced install), rendered and applied on its own.
 * deploy/argocd is a Component for Argo CD's argocd-cm (tested below).
 */
const variants: string[] = [];
for (const d of await readdir(DEPLOY, { withFileTypes: true })) {
  if (!d.isDirectory() || d.name === 'components') continue;
  const file = await readFile(join(DEPLOY, d.name, 'kustomization.yaml'), 'utf8').catch(() => '');
  if (file !== '' && !/^kind:\s*Component\s*$/m.test(file)) variants.push(d.name);
}
variants.sort();

/** Kinds no built-in API serves that components may render, with the stand-in CRDs for them. */
const STAND_INS: Record<string, { plural: string }> = {
  'monitoring.coreos.com/ServiceMonitor': { plural: 'servicemonitors' },
  'monitoring.coreos.com/PodMonitor': { plural: 'podmonitors' },
  'monitoring.coreos.com/PrometheusRule': { plural: 'prometheusrules' },
};

async function served(apiVersion: string, kind: string): Promise<boolean> {
  const group = apiVersion.includes('/') ? (apiVersion.split('/')[0] ?? '') : '';
  const resources = await kubectl(['api-resources', `--api-group=${group}`, '--no-headers']);
  return resources.split('\n').some((line) => line.trim().split(/\s+/).at(-1) === kind);
}

/** Installs a stand-in CRD (any content accepted) for a kind the API server does not serve. */
async function standIn(apiVersion: string, kind: string): Promise<void> {
  const [group, version] = apiVersion.split('/');
  const known = STAND_INS[`${group}/${kind}`];
  if (known === undefined || version === undefined) throw new Error(`no API serves ${apiVersion} ${kind}`);
  await apply(
    JSON.stringify({
      apiVersion: 'apiextensions.k8s.io/v1',
      kind: 'CustomResourceDefinition',
      metadata: { name: `${known.plural}.${group}` },
      spec: {
        group,
        scope: 'Namespaced',
        names: { kind, plural: known.plural, singular: kind.toLowerCase(), listKind: `${kind}List` },
        versions: [
          {
            name: version,
            served: true,
            storage: true,
            schema: { openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } },
          },
        ],
      },
    }),
  );
  standIns.push(`${known.plural}.${group}`);
  await kubectl(['wait', '--for=condition=Established', `crd/${known.plural}.${group}`, '--timeout=60s']);
}

/** kubectl's name for the kind: Kind for the core group, Kind.group otherwise. */
const resourceType = (o: Obj) =>
  o.apiVersion.includes('/') ? `${o.kind}.${o.apiVersion.split('/')[0]}` : o.kind;

async function applyRendered(objects: Obj[], yaml: string): Promise<void> {
  for (const o of objects) if (!(await served(o.apiVersion, o.kind))) await standIn(o.apiVersion, o.kind);
  for (const o of objects) applied.set(objectKey(o), o);
  const out = await apply(yaml);
  // One line per object, each accepted (a refused one fails the apply with the server's message).
  expect(
    out
      .trim()
      .split('\n')
      .filter((line) => line.endsWith(' serverside-applied')),
  ).toHaveLength(objects.length);
  // An applied CRD (even unchanged: its managedFields change) makes the API server rebuild the
  // storage of its resources, which answer 429 "storage is (re)initializing" for a moment.
  await waitFor(() => kubectl(['get', 'btpcertificates', '-A']).then(() => true), {
    description: 'BTPCertificates served again',
  });
  for (const o of objects) {
    const ns = o.metadata.namespace === undefined ? [] : ['-n', o.metadata.namespace];
    const got = JSON.parse(await kubectl(['get', resourceType(o), o.metadata.name, ...ns, '-o', 'json']));
    expect(`${got.kind}/${got.metadata.name}`).toBe(`${o.kind}/${o.metadata.name}`);
  }
}

/** The files a kustomization includes: resources, patch files, strategic merge patches. */
function listedFiles(text: string): Set<string> {
  const k = (loadAllYaml(text)[0] ?? {}) as {
    resources?: string[];
    patches?: { path?: string }[];
    patchesStrategicMerge?: string[];
  };
  return new Set([
    ...(k.resources ?? []),
    ...(k.patches ?? []).flatMap((p) => (p.path === undefined ? [] : [p.path])),
    ...(k.patchesStrategicMerge ?? []),
  ]);
}

const byKind = (objects: Obj[], kind: string) => objects.filter((o) => o.kind === kind);

describe('kubectl apply -k deploy/', () => {
  const byHand = testNamespace(kc, 'install-by-hand');
  it('renders the CRD with the operator, and the API server accepts every object', async () => {
    const { yaml, objects } = await render(DEPLOY);
    const [crd] = byKind(objects, 'CustomResourceDefinition');
    expect(crd?.metadata.name).toBe('btpcertificates.btpcerts.io');
    expect(crd?.metadata.namespace).toBeUndefined();
    expect(crd).toEqual(
      loadAllYaml(await readFile(join(REPO_ROOT, 'crds', 'btpcerts.io_btpcertificates.yaml'), 'utf8'))[0],
    );
    expect(byKind(objects, 'PodDisruptionBudget')).toHaveLength(1);
    const [deployment] = byKind(objects, 'Deployment');
    const template = (deployment?.spec?.template ?? {}) as { spec: Record<string, unknown> };
    expect(deployment?.spec?.replicas).toBe(2);
    expect(template.spec.topologySpreadConstraints).toHaveLength(2);
    await applyRendered(objects, yaml);
  });

  it('runs pods the restricted Pod Security level admits (server-side dry run)', async () => {
    const { objects } = await render(DEPLOY);
    const [deployment] = byKind(objects, 'Deployment');
    const template = deployment?.spec?.template as { metadata: Record<string, unknown>; spec: unknown };
    const namespace = deployment?.metadata.namespace ?? '';
    const labels = JSON.parse(await kubectl(['get', 'namespace', namespace, '-o', 'json'])).metadata.labels;
    expect(labels['pod-security.kubernetes.io/enforce']).toBe('restricted');
    const pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { ...template.metadata, name: 'install-test-pod', namespace },
      spec: template.spec,
    };
    await kubectl(['create', '--dry-run=server', '-f', '-'], JSON.stringify(pod));
    // The check has teeth: a pod that asks for root is refused.
    const root = { ...pod, spec: { ...(pod.spec as object), securityContext: { runAsNonRoot: false } } };
    await expect(kubectl(['create', '--dry-run=server', '-f', '-'], JSON.stringify(root))).rejects.toThrow(
      /violates PodSecurity "restricted/,
    );
  });

  it.each(components)('with the component %s: rendered and accepted', async (component) => {
    const dir = await overlay(
      (toRepo) => `resources: [${toRepo}/deploy]\ncomponents: [${toRepo}/deploy/components/${component}]\n`,
    );
    const base = await render(DEPLOY);
    const { yaml, objects } = await render(dir);
    // A component adds or changes objects; the CRD and the operator stay.
    expect(byKind(objects, 'CustomResourceDefinition')).toHaveLength(1);
    expect(byKind(objects, 'Deployment')).toHaveLength(1);
    expect(yaml).not.toBe(base.yaml);
    await applyRendered(objects, yaml);
    // Manifests of the component that its kustomization does not include are applied by hand, once
    // per namespace (e.g. a Role for each watched namespace): into a namespace of this test.
    const folder = join(COMPONENTS, component);
    const included = listedFiles(await readFile(join(folder, 'kustomization.yaml'), 'utf8'));
    const byHandFiles = (await readdir(folder))
      .filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml' && !included.has(f))
      .sort();
    for (const file of byHandFiles) {
      const out = await kubectl([
        'apply',
        '--server-side',
        `--field-manager=${MANAGER}`,
        '-n',
        byHand,
        '-f',
        join(folder, file),
      ]);
      expect(out).toContain('serverside-applied');
    }
  });

  for (const variant of variants)
    it(`the install deploy/${variant}: rendered and accepted`, async () => {
      const { yaml, objects } = await render(join(DEPLOY, variant));
      expect(byKind(objects, 'CustomResourceDefinition')).toHaveLength(1);
      expect(byKind(objects, 'Deployment')).toHaveLength(1);
      await applyRendered(objects, yaml);
    });

  it('deploy/ applied last again: the state a plain install leaves', async () => {
    const { yaml, objects } = await render(DEPLOY);
    await applyRendered(objects, yaml);
  });
});

describe('deploy/argocd', () => {
  const ns = testNamespace(kc, 'argocd');
  it("puts health.lua into Argo CD's argocd-cm", async () => {
    const dir = await overlay(
      (toRepo) => `namespace: ${ns}\nresources: [argocd-cm.yaml]\ncomponents: [${toRepo}/deploy/argocd]\n`,
    );
    await writeFile(
      join(dir, 'argocd-cm.yaml'),
      'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: argocd-cm}\ndata: {url: https://argocd.example}\n',
    );
    const { yaml, objects } = await render(dir);
    expect(objects).toHaveLength(1);
    const [cm] = objects;
    expect(cm?.metadata.name).toBe('argocd-cm');
    expect(cm?.data).toEqual({
      url: 'https://argocd.example',
      'resource.customizations.health.btpcerts.io_BTPCertificate': await readFile(HEALTH_SCRIPT_PATH, 'utf8'),
    });
    await applyRendered(objects, yaml);
  });
});

describe('kubectl explain', () => {
  it.each([
    ['btpcertificates.status.notAfter', 'End of the validity of the certificate in the Secret'],
    ['btpcertificates.status.conditions.reason', 'Why, in one CamelCase word'],
    ['btpcertificates.spec.token.checkInterval', 'How often the credentials in the Secret are checked again'],
  ])('%s has a description', async (path, text) => {
    expect(await kubectl(['explain', path])).toContain(text);
  });
});
