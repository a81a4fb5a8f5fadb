// A real Kubernetes control plane on loopback for integration tests: etcd, kube-apiserver and
// (optionally) kube-controller-manager running the garbage-collector and namespace controllers.
//
// Everything lives in a fresh temp work dir (PKI, etcd data, kubeconfig, one log file per
// component) that `stop()` removes. Children are killed when the owner exits (teardown.ts) and,
// should the owner die without exit hooks, by the next start (leftovers.ts).
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { KubeConfig } from '@kubernetes/client-node';
import { binaryPath, locateBinDir } from './binaries.ts';
import { renderKubeconfig } from './kubeconfig.ts';
import {
  childRecords,
  currentProcessIdentity,
  reapLeftovers,
  removeRecord,
  removeRecordSync,
  WORK_DIR_PREFIX,
  writeRecord,
} from './leftovers.ts';
import { applyManifestDir } from './manifests.ts';
import { generateControlPlanePki } from './pki.ts';
import { freePort, isAddressInUse, LOOPBACK } from './ports.ts';
import { get, isOk, type ProbeTls } from './probe.ts';
import { describeExit, ManagedProcess, type ProcessSpec } from './processes.ts';
import { cleanupOnExit } from './teardown.ts';
import { waitFor } from './wait.ts';

export interface ControlPlaneOptions {
  /** Folder with etcd, kube-apiserver, kube-controller-manager, kubectl; default: see binaries.ts. */
  readonly binDir?: string;
  /** Run kube-controller-manager (garbage collector, namespace deletion). Default true. */
  readonly controllerManager?: boolean;
  /** Progress lines; default: silent. */
  readonly log?: (line: string) => void;
  /** Deadline for each component to become ready. Default 60 s (generous for a loaded machine). */
  readonly startTimeoutMs?: number;
  /** Time between SIGTERM and SIGKILL when stopping a component. Default 10 s. */
  readonly stopGraceMs?: number;
  /**
   * Keep the work dir (logs, etcd data, PKI) after stop or a failed start, for debugging.
   * Default: true if BTPCERTS_KEEP_CONTROL_PLANE=1.
   */
  readonly keepWorkDir?: boolean;
}

/** Where a component's start failed; the message carries the tail of its log. */
export class ComponentStartError extends Error {
  readonly component: string;
  readonly logTail: string;
  readonly addressInUse: boolean;

  constructor(component: string, reason: string, logName: string, logTail: string) {
    super(`${component} did not become ready: ${reason}\n--- last lines of ${logName} ---\n${logTail}\n---`);
    this.name = 'ComponentStartError';
    this.component = component;
    this.logTail = logTail;
    this.addressInUse = isAddressInUse(logTail);
  }
}

const PORT_ATTEMPTS = 3;
const SERVICE_ACCOUNT_ISSUER = 'https://kubernetes.default.svc.cluster.local';

interface Files {
  readonly caCert: string;
  readonly servingCert: string;
  readonly servingKey: string;
  readonly serviceAccountKey: string;
  readonly kubeconfig: string;
  readonly etcdData: string;
}

interface Settings {
  readonly binDir: string;
  readonly workDir: string;
  readonly id: string;
  readonly files: Files;
  readonly tls: ProbeTls;
  readonly startTimeoutMs: number;
  readonly stopGraceMs: number;
  readonly keepWorkDir: boolean;
  readonly log: (line: string) => void;
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Spawns a component and waits until `ready` holds; on failure stops it and reports its log. */
async function launch(
  settings: Settings,
  spec: ProcessSpec,
  ready: () => Promise<boolean>,
  description: string,
): Promise<ManagedProcess> {
  const proc = await ManagedProcess.spawn(spec);
  try {
    await waitFor(async () => (await ready()) || undefined, {
      description,
      timeoutMs: settings.startTimeoutMs,
      intervalMs: 100,
      signal: proc.exitSignal,
    });
    return proc;
  } catch (error) {
    await proc.stop(settings.stopGraceMs);
    const logName = settings.keepWorkDir
      ? spec.logPath
      : `${basename(spec.logPath)} (work dir removed; BTPCERTS_KEEP_CONTROL_PLANE=1 keeps it)`;
    throw new ComponentStartError(spec.name, errorMessage(error), logName, await proc.recentLog());
  }
}

/** Retries a launch with fresh ports when the component lost the race for one of them. */
async function launchWithFreshPorts<T>(
  settings: Settings,
  name: string,
  attempt: () => Promise<T>,
): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await attempt();
    } catch (error) {
      if (!(error instanceof ComponentStartError && error.addressInUse) || i >= PORT_ATTEMPTS) throw error;
      settings.log(`${name}: port already taken, retrying with another one (attempt ${i + 1})`);
    }
  }
}

export class ControlPlane {
  /** Admin kubeconfig (client certificate in group system:masters). */
  readonly kubeconfigPath: string;
  /** https://127.0.0.1:<port> */
  readonly server: string;
  /** gitVersion from kube-apiserver's /version, e.g. v1.36.3. */
  readonly version: string;
  readonly binDir: string;
  readonly workDir: string;
  /** Milliseconds from the first process spawn (binaries present, PKI done) to ready. */
  readonly startupMs: number;

  readonly #settings: Settings;
  readonly #etcd: ManagedProcess;
  #apiServer: ManagedProcess;
  readonly #apiServerSpec: ProcessSpec;
  readonly #controllerManager: ManagedProcess | undefined;
  readonly #unregisterCleanup: () => void;
  #stopping: Promise<void> | undefined;

  private constructor(init: {
    settings: Settings;
    server: string;
    version: string;
    startupMs: number;
    etcd: ManagedProcess;
    apiServer: ManagedProcess;
    apiServerSpec: ProcessSpec;
    controllerManager: ManagedProcess | undefined;
    unregisterCleanup: () => void;
  }) {
    this.#settings = init.settings;
    this.kubeconfigPath = init.settings.files.kubeconfig;
    this.server = init.server;
    this.version = init.version;
    this.binDir = init.settings.binDir;
    this.workDir = init.settings.workDir;
    this.startupMs = init.startupMs;
    this.#etcd = init.etcd;
    this.#apiServer = init.apiServer;
    this.#apiServerSpec = init.apiServerSpec;
    this.#controllerManager = init.controllerManager;
    this.#unregisterCleanup = init.unregisterCleanup;
  }

  static async start(options: ControlPlaneOptions = {}): Promise<ControlPlane> {
    const log = options.log ?? (() => {});
    const keepWorkDir = options.keepWorkDir ?? process.env.BTPCERTS_KEEP_CONTROL_PLANE === '1';
    const binDir = options.binDir ?? (await locateBinDir());
    const reaped = await reapLeftovers();
    if (reaped.killed.length > 0 || reaped.removedDirs.length > 0) {
      log(`removed leftovers of a dead run: ${[...reaped.killed, ...reaped.removedDirs].join(', ')}`);
    }

    const workDir = await mkdtemp(join(tmpdir(), WORK_DIR_PREFIX));
    const id = `${basename(workDir).slice(WORK_DIR_PREFIX.length)}-${randomBytes(3).toString('hex')}`;
    const removeWorkDir = async (): Promise<void> => {
      if (keepWorkDir) log(`work dir kept: ${workDir}`);
      else await rm(workDir, { recursive: true, force: true, maxRetries: 3 });
    };
    // Registered first, so it runs last: after the children (registered later) are killed.
    const unregisterCleanup = cleanupOnExit(() => {
      if (!keepWorkDir) rmSync(workDir, { recursive: true, force: true, maxRetries: 3 });
      removeRecordSync(id);
    });
    const started: ManagedProcess[] = [];
    const owner = currentProcessIdentity();
    const track = async (proc: ManagedProcess): Promise<void> => {
      started.push(proc);
      await writeRecord(id, { owner, workDir, children: childRecords(started) });
    };

    try {
      await writeRecord(id, { owner, workDir, children: [] });
      const pki = await generateControlPlanePki({ now: new Date() });
      const files: Files = {
        caCert: join(workDir, 'ca.crt'),
        servingCert: join(workDir, 'apiserver.crt'),
        servingKey: join(workDir, 'apiserver.key'),
        serviceAccountKey: join(workDir, 'service-account.key'),
        kubeconfig: join(workDir, 'kubeconfig.yaml'),
        etcdData: join(workDir, 'etcd-data'),
      };
      const secret = { mode: 0o600 };
      await Promise.all([
        writeFile(files.caCert, pki.ca.certPem),
        writeFile(files.servingCert, pki.serving.certPem),
        writeFile(files.servingKey, pki.serving.keyPem, secret),
        writeFile(files.serviceAccountKey, pki.serviceAccount.privateKeyPem, secret),
      ]);
      const settings: Settings = {
        binDir,
        workDir,
        id,
        files,
        tls: { ca: pki.ca.certPem, cert: pki.admin.certPem, key: pki.admin.keyPem },
        startTimeoutMs: options.startTimeoutMs ?? 60_000,
        stopGraceMs: options.stopGraceMs ?? 10_000,
        keepWorkDir,
        log,
      };
      const t0 = performance.now();

      const etcdBinary = binaryPath(binDir, 'etcd');
      const { proc: etcd, url: etcdUrl } = await launchWithFreshPorts(settings, 'etcd', async () => {
        const [clientPort, peerPort] = [await freePort(), await freePort()];
        const url = `http://${LOOPBACK}:${clientPort}`;
        const peerUrl = `http://${LOOPBACK}:${peerPort}`;
        const spec: ProcessSpec = {
          name: 'etcd',
          binary: etcdBinary,
          logPath: join(workDir, 'etcd.log'),
          args: [
            '--name=default',
            `--data-dir=${files.etcdData}`,
            `--listen-client-urls=${url}`,
            `--advertise-client-urls=${url}`,
            `--listen-peer-urls=${peerUrl}`,
            `--initial-advertise-peer-urls=${peerUrl}`,
            `--initial-cluster=default=${peerUrl}`,
            '--unsafe-no-fsync=true',
          ],
        };
        const proc = await launch(
          settings,
          spec,
          async () => (await get(`${url}/health`).catch(() => undefined))?.status === 200,
          `etcd health at ${url}/health`,
        );
        await track(proc);
        return { proc, url };
      });
      log(`etcd ready at ${etcdUrl} (${Math.round(performance.now() - t0)} ms)`);

      const apiServerBinary = binaryPath(binDir, 'kube-apiserver');
      const {
        proc: apiServer,
        spec: apiServerSpec,
        server,
      } = await launchWithFreshPorts(settings, 'kube-apiserver', async () => {
        const port = await freePort();
        const server = `https://${LOOPBACK}:${port}`;
        const spec: ProcessSpec = {
          name: 'kube-apiserver',
          binary: apiServerBinary,
          logPath: join(workDir, 'kube-apiserver.log'),
          args: apiServerArgs({ etcdUrl, port, files }),
        };
        const proc = await launch(
          settings,
          spec,
          () => apiServerReady(server, settings.tls),
          `kube-apiserver ${server}/readyz and namespace default`,
        );
        await track(proc);
        return { proc, spec, server };
      });
      log(`kube-apiserver ready at ${server} (${Math.round(performance.now() - t0)} ms)`);

      await writeFile(
        files.kubeconfig,
        renderKubeconfig({
          server,
          caCertPem: pki.ca.certPem,
          clientCertPem: pki.admin.certPem,
          clientKeyPem: pki.admin.keyPem,
        }),
        secret,
      );
      const version = await fetchVersion(server, settings.tls);

      let controllerManager: ManagedProcess | undefined;
      if (options.controllerManager ?? true) {
        const kcmBinary = binaryPath(binDir, 'kube-controller-manager');
        controllerManager = await launchWithFreshPorts(settings, 'kube-controller-manager', async () => {
          const port = await freePort();
          const spec: ProcessSpec = {
            name: 'kube-controller-manager',
            binary: kcmBinary,
            logPath: join(workDir, 'kube-controller-manager.log'),
            args: controllerManagerArgs({ port, kubeconfig: files.kubeconfig }),
          };
          const proc = await launch(
            settings,
            spec,
            () => isOk(`https://${LOOPBACK}:${port}/healthz`, {}),
            `kube-controller-manager https://${LOOPBACK}:${port}/healthz`,
          );
          await track(proc);
          return proc;
        });
        log(`kube-controller-manager ready (${Math.round(performance.now() - t0)} ms)`);
      }
      const startupMs = performance.now() - t0;

      return new ControlPlane({
        settings,
        server,
        version,
        startupMs,
        etcd,
        apiServer,
        apiServerSpec,
        controllerManager,
        unregisterCleanup,
      });
    } catch (error) {
      for (const proc of started.reverse()) await proc.stop(options.stopGraceMs ?? 10_000);
      await removeWorkDir();
      await removeRecord(id);
      unregisterCleanup();
      throw error;
    }
  }

  /** A client-node KubeConfig for the admin user. */
  kubeConfig(): KubeConfig {
    const kc = new KubeConfig();
    kc.loadFromFile(this.kubeconfigPath);
    return kc;
  }

  /** Path of the kubectl binary built with the control plane. */
  get kubectlPath(): string {
    return binaryPath(this.binDir, 'kubectl');
  }

  /** Applies every *.yaml of `dir` and waits until each CRD among them is Established. */
  installCRDs(dir: string): Promise<string[]> {
    this.#assertRunning();
    return applyManifestDir(this.kubeConfig(), dir, this.#settings.startTimeoutMs);
  }

  /**
   * Stops kube-apiserver and starts it again on the same port against the same etcd, then waits
   * until it is ready. Clients (informers, kube-controller-manager) see their connections drop.
   */
  async restartApiServer(): Promise<void> {
    this.#assertRunning();
    const settings = this.#settings;
    const t0 = performance.now();
    const exit = await this.#apiServer.stop(settings.stopGraceMs);
    settings.log(`kube-apiserver stopped (${describeExit(exit)}, ${Math.round(performance.now() - t0)} ms)`);
    // Same port on purpose; if something else grabbed it meanwhile, wait and try again.
    for (let attempt = 1; ; attempt++) {
      try {
        this.#apiServer = await launch(
          settings,
          this.#apiServerSpec,
          () => apiServerReady(this.server, settings.tls),
          `restarted kube-apiserver ${this.server}/readyz`,
        );
        break;
      } catch (error) {
        if (!(error instanceof ComponentStartError && error.addressInUse) || attempt >= 5) throw error;
        await sleep(1_000);
      }
    }
    settings.log(`kube-apiserver restarted on ${this.server} (${Math.round(performance.now() - t0)} ms)`);
    await writeRecord(settings.id, {
      owner: currentProcessIdentity(),
      workDir: this.workDir,
      children: childRecords(this.#processes()),
    });
  }

  /** Stops every component (SIGTERM, SIGKILL after the grace period) and removes the work dir. */
  stop(): Promise<void> {
    this.#stopping ??= this.#stop();
    return this.#stopping;
  }

  async #stop(): Promise<void> {
    // Reverse start order: clients of the apiserver first, etcd last.
    for (const proc of this.#processes().reverse()) await proc.stop(this.#settings.stopGraceMs);
    if (this.#settings.keepWorkDir) this.#settings.log(`work dir kept: ${this.workDir}`);
    else await rm(this.workDir, { recursive: true, force: true, maxRetries: 3 });
    await removeRecord(this.#settings.id);
    this.#unregisterCleanup();
  }

  #processes(): ManagedProcess[] {
    return [this.#etcd, this.#apiServer, ...(this.#controllerManager ? [this.#controllerManager] : [])];
  }

  #assertRunning(): void {
    if (this.#stopping !== undefined) throw new Error('the control plane has been stopped');
  }
}

function apiServerArgs(input: { etcdUrl: string; port: number; files: Files }): string[] {
  const { files } = input;
  return [
    `--etcd-servers=${input.etcdUrl}`,
    `--bind-address=${LOOPBACK}`,
    `--secure-port=${input.port}`,
    // No default route on these machines: without an explicit advertise address the apiserver
    // fails to pick one; a loopback one is accepted only without the endpoint reconciler.
    `--advertise-address=${LOOPBACK}`,
    '--endpoint-reconciler-type=none',
    `--tls-cert-file=${files.servingCert}`,
    `--tls-private-key-file=${files.servingKey}`,
    `--client-ca-file=${files.caCert}`,
    `--service-account-issuer=${SERVICE_ACCOUNT_ISSUER}`,
    `--service-account-key-file=${files.serviceAccountKey}`,
    `--service-account-signing-key-file=${files.serviceAccountKey}`,
    '--service-cluster-ip-range=10.0.0.0/24',
    '--authorization-mode=RBAC',
    '--allow-privileged=true',
    // No service-account controller runs, so pods would be rejected for want of a token.
    '--disable-admission-plugins=ServiceAccount',
    // As on clusters that enable it (OpenShift does): setting blockOwnerDeletion on an
    // ownerReference needs update on the owner's finalizers, which deploy/rbac.yaml grants the
    // operator for its Secrets' BTPCertificate; the tests run it with exactly that RBAC.
    '--enable-admission-plugins=OwnerReferencesPermissionEnforcement',
    // Without it a SIGTERM waits up to the 60 s request timeout for open watch connections
    // (kube-controller-manager's, an operator's informers) before exiting; with it the watches
    // are closed and the apiserver exits in about a second.
    '--shutdown-watch-termination-grace-period=2s',
  ];
}

function controllerManagerArgs(input: { port: number; kubeconfig: string }): string[] {
  // No --authentication-kubeconfig/--authorization-kubeconfig: with them it looks for a
  // requestheader CA the apiserver does not publish and logs an error several times a second.
  // /healthz needs neither (always-allowed path).
  return [
    `--kubeconfig=${input.kubeconfig}`,
    // The names 1.36 lists; the older "garbagecollector,namespace" are still accepted as aliases.
    '--controllers=garbage-collector-controller,namespace-controller',
    '--leader-elect=false',
    `--bind-address=${LOOPBACK}`,
    `--secure-port=${input.port}`,
  ];
}

async function apiServerReady(server: string, tls: ProbeTls): Promise<boolean> {
  return (await isOk(`${server}/readyz`, tls)) && (await isOk(`${server}/api/v1/namespaces/default`, tls));
}

async function fetchVersion(server: string, tls: ProbeTls): Promise<string> {
  const response = await get(`${server}/version`, tls);
  const body: unknown = JSON.parse(response.body);
  if (response.status !== 200 || !isObject(body) || typeof body.gitVersion !== 'string') {
    throw new Error(`unexpected answer from ${server}/version: ${response.status} ${response.body}`);
  }
  return body.gitVersion;
}
