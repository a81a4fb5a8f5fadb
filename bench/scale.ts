// How the operator scales (`npm run bench:scale`, issue 11). Reported, never asserted. Against a
// private control plane of the test harness, one run:
//   limit        a minimal client doing only the unavoidable writes for N certificates (create the
//                Secret, patch a status, create an Event), 16 at a time, with the operator's own
//                client settings (src/kube/config.ts keptAlive); limit-plain: the same through
//                client-node's own per-request dispatcher
//   cold         N BTPCertificates (Secret source, token check off) created before the operator
//                (a child process, src/main.ts) starts: time until all Ready, latency percentiles,
//                API requests by verb (apiserver_request_total), CPU seconds, peak RSS
//   idle         --idle-seconds with everything Ready: requests, CPU, RSS, reconciles
//   secrets      M unrelated 100 KB Secrets added to the watched namespace: RSS before and after
//   restart      SIGTERM, start again with N Ready: time until each certificate was confirmed once
//                (a reconcile of it ended with a requeue, read from the operator's debug log; the
//                reconcile count of its /metrics cannot tell N certificates from one reconciled N
//                times), requests made
//   cold-sm      --n-sm (200) BTPCertificates with the Service Manager source of the BTP simulator
//                (key pool filled first), token check on, the simulator's documented SM rate limits
//                on: as cold, plus the busiest minute of binding calls (every request under
//                /v1/service_bindings; the operator keeps under the documented 600/min) and of all
//                SM calls (1,000/min), and the simulator's 429s
//   renewal      --n-renew (200) BTPCertificates of the Service Manager source, the simulator's
//                documented SM rate limits on, every certificate it issues living --renew-lifetime
//                (240 s; setLifetimeOverride), observed through one watch until each has renewed
//                once: when renewals were served (share of the first certificate's lifetime, and
//                seconds since the operator started, 10 buckets each), how late after renewalTime,
//                the busiest minute of binding calls (issuance and renewal apart; limit 600/min),
//                429s, and how many came within 10 % of expiry (and the smallest margin). The
//                operator spends at most 8 SM calls/s per access credential (src/btp/rate-limit.ts)
//                and an issuance or a renewal takes 4 (listInstances, 2 listBindings,
//                createBinding): about 2 certificates/s, so 200 are issued in about 100 s and each
//                is due at 2/3 of 240 s minus up to 5 % jitter (148-160 s after its issuance):
//                the renewals come after the issuance wave and end within the part's ~5 minutes
// Flags: --n N (1000) --m M (1000) --skip limit,limit-plain,cold,idle,secrets,restart,cold-sm,renewal
//        --n-sm N (200) --n-renew N (200) --renew-lifetime SECONDS (240)
//        --idle-seconds S (60) --concurrency C (the operator's --concurrency; default its own)
//        --cpu-prof (profile the first operator process; see bench/cpu-profile-top.ts)
//        --node-args="FLAGS" (more flags for the operator's node, e.g. --max-semi-space-size=2)
//        --memory-limit MIB (the operator runs in a memory cgroup of that size, as under its
//        Deployment's limit (256); memoryMB then shows the cgroup's usage, working set, peak and
//        OOM kills; needs root)
//        --note TEXT (written into the results, e.g. what else the machine was doing)
//        --from dist|src (dist: built with tsconfig.build.json into .tmp/bench-dist and run as the
//        image runs it, node --max-semi-space-size=2 start.js; src: src/main.ts, type-stripped)
// Results: bench/results/scale-<date>[-n<N>][-sm<N_SM>][-renew<N_RENEW>].{md,json}, with how long
// the whole run took and the benchmark process's own peak RSS.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { CoreV1Api, CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import { request } from 'undici';
import { kubeApi } from '../src/kube/api.ts';
import { keptAlive } from '../src/kube/config.ts';
import { type Route, SM_ROUTES } from '../test/support/btp-simulator/routes.ts';
import { BINDING_ROUTES } from '../test/support/btp-simulator/service-manager.ts';
import {
  type Simulator,
  type SimulatorCounters,
  startSimulator,
} from '../test/support/btp-simulator/simulator.ts';
import { kymaSecretData } from '../test/support/btp-simulator/sm-credentials.ts';
import { smSource } from '../test/support/btpcert.ts';
import { REPO_ROOT } from '../test/support/control-plane/binaries.ts';
import { ControlPlane } from '../test/support/control-plane/control-plane.ts';
import { freePort } from '../test/support/control-plane/ports.ts';
import { kubeConfigFromFile } from '../test/support/kube.ts';
import { installOperatorIdentity } from '../test/support/operator-identity.ts';
import { type OperatorProcess, spawnOperator } from '../test/support/operator-process.ts';
import { ConfirmationLog } from './support/confirmations.ts';
import { distinctBindingCredentials } from './support/credentials.ts';
import { MemoryCgroup } from './support/memory-cgroup.ts';
import { inParallel, percentile, sleep, waitUntil } from './support/parallel.ts';
import { RssWatcher, sampleProcess } from './support/process-stats.ts';
import { ReadinessWatch } from './support/readiness.ts';
import { busiestWindow, RenewalLog } from './support/renewals.ts';
import { ApiServerMetrics, type RequestSummary, requestDelta, summarize } from './support/request-counts.ts';

const PARTS = ['limit', 'limit-plain', 'cold', 'idle', 'secrets', 'restart', 'cold-sm', 'renewal'] as const;
type Part = (typeof PARTS)[number];

const { values } = parseArgs({
  options: {
    n: { type: 'string', default: '1000' },
    'n-sm': { type: 'string', default: '200' },
    'n-renew': { type: 'string', default: '200' },
    'renew-lifetime': { type: 'string', default: '240' },
    m: { type: 'string', default: '1000' },
    skip: { type: 'string', default: '' },
    'idle-seconds': { type: 'string', default: '60' },
    concurrency: { type: 'string' },
    'cpu-prof': { type: 'boolean', default: false },
    note: { type: 'string', default: '' },
    from: { type: 'string', default: 'dist' },
    'node-args': { type: 'string', default: '' },
    'memory-limit': { type: 'string' },
  },
});
const N = Number(values.n);
const M = Number(values.m);
const IDLE_SECONDS = Number(values['idle-seconds']);
const N_SM = Number(values['n-sm']);
const N_RENEW = Number(values['n-renew']);
const RENEW_LIFETIME_S = Number(values['renew-lifetime']);
if (![N_SM, N_RENEW].every((v) => Number.isInteger(v) && v >= 0))
  throw new Error('--n-sm and --n-renew must be whole numbers');
if (!Number.isInteger(RENEW_LIFETIME_S) || RENEW_LIFETIME_S < 30)
  throw new Error('--renew-lifetime must be a whole number of seconds, at least 30');
if (![N, M, IDLE_SECONDS].every((v) => Number.isInteger(v) && v >= 0) || N === 0)
  throw new Error('--n must be a positive integer; --m and --idle-seconds whole numbers');
const skipped = new Set(values.skip.split(',').filter(Boolean));
for (const s of skipped) if (!PARTS.includes(s as Part)) throw new Error(`--skip: unknown part ${s}`);
const runs = (part: Part) => !skipped.has(part);
const MEMORY_LIMIT_MIB = values['memory-limit'] === undefined ? undefined : Number(values['memory-limit']);
if (MEMORY_LIMIT_MIB !== undefined && !(Number.isInteger(MEMORY_LIMIT_MIB) && MEMORY_LIMIT_MIB > 0))
  throw new Error('--memory-limit must be a positive whole number of MiB');
const cgroup =
  MEMORY_LIMIT_MIB === undefined ? undefined : MemoryCgroup.create(MEMORY_LIMIT_MIB * 1024 * 1024);
if (values.from !== 'dist' && values.from !== 'src') throw new Error('--from must be dist or src');
const PARALLEL = 16;
const G = { group: 'btpcerts.io', version: 'v1alpha1', plural: 'btpcertificates' } as const;
const MB = 1024 * 1024;

const benchStarted = performance.now();
const log = (line: string) =>
  console.error(`[bench:scale +${Math.round((performance.now() - benchStarted) / 1000)}s] ${line}`);
const seconds = (ms: number) => Math.round(ms) / 1000;
const round = (x: number, digits = 1) => Math.round(x * 10 ** digits) / 10 ** digits;

type Results = Record<string, unknown>;
const results: Results = {};

function environment(kubeVersion: string): Record<string, unknown> {
  const git = (args: string[]) => {
    try {
      return execFileSync('git', args, { cwd: REPO_ROOT, encoding: 'utf8' }).trim();
    } catch {
      return 'unknown';
    }
  };
  return {
    date: new Date().toISOString(),
    commit: git(['rev-parse', '--short', 'HEAD']),
    dirty: git(['status', '--porcelain', '--untracked-files=no']) !== '',
    cpus: availableParallelism(),
    cpuModel: cpus()[0]?.model ?? 'unknown',
    memoryGB: round(totalmem() / 1024 ** 3),
    node: process.version,
    kubernetes: kubeVersion,
    loadAverageAtStart: readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' '),
    n: N,
    m: M,
    nServiceManager: N_SM,
    nRenewal: N_RENEW,
    renewalLifetimeSeconds: RENEW_LIFETIME_S,
    operatorFrom: values.from,
    memoryLimitMiB: MEMORY_LIMIT_MIB ?? null,
    note: values.note,
  };
}

async function createNamespace(core: CoreV1Api, name: string): Promise<void> {
  await core.createNamespace({ body: { metadata: { name } } });
}

function certificateBody(name: string, sourceName: string): object {
  return {
    apiVersion: 'btpcerts.io/v1alpha1',
    kind: 'BTPCertificate',
    metadata: { name },
    spec: { secretName: `tls-${name}`, source: { secret: { name: sourceName } }, token: { check: false } },
  };
}

/** The unavoidable writes of N issuances, 16 at a time, through `client`. */
async function limit(admin: KubeConfig, client: KubeConfig, namespace: string): Promise<Results> {
  const core = client.makeApiClient(CoreV1Api);
  const custom = client.makeApiClient(CustomObjectsApi);
  await createNamespace(core, namespace);
  // Setup, not timed: the objects whose status is patched.
  const uids: string[] = [];
  await inParallel(N, PARALLEL, async (i) => {
    const created = (await custom.createNamespacedCustomObject({
      ...G,
      namespace,
      body: certificateBody(`c-${i}`, 'none'),
    })) as { metadata: { uid: string } };
    uids[i] = created.metadata.uid;
  });
  const api = kubeApi(client);
  const metrics = new ApiServerMetrics(admin);
  const before = await metrics.scrape();
  const started = performance.now();
  await inParallel(N, PARALLEL, async (i) => {
    const name = `c-${i}`;
    await api.applySecret(
      {
        apiVersion: 'v1',
        kind: 'Secret',
        type: 'kubernetes.io/tls',
        metadata: { name: `tls-${name}`, namespace },
        stringData: { 'tls.crt': 'x'.repeat(2048), 'tls.key': 'x'.repeat(1700) },
      },
      'absent',
    );
    await api.patchCertificateStatus(namespace, name, { observedGeneration: 1 });
    const now = new Date();
    await api.createEvent({
      namespace,
      involved: { name, uid: uids[i] ?? '' },
      type: 'Normal',
      reason: 'Issued',
      message: 'bench',
      count: 1,
      firstTimestamp: now,
      lastTimestamp: now,
    });
  });
  const elapsed = performance.now() - started;
  const requests = summarize(requestDelta(await metrics.scrape(), before));
  await metrics.close();
  return {
    seconds: seconds(elapsed),
    writesPerSecond: round(requests.writes / (elapsed / 1000), 0),
    writes: requests.writes,
    requests,
  };
}

type OperatorCounts = { readonly reconciles: number; readonly byOutcome: Readonly<Record<string, number>> };

/** btpcert_reconcile_total from the operator's /metrics: all runs, and by outcome. */
async function operatorMetrics(port: number): Promise<OperatorCounts | undefined> {
  try {
    const response = await request(`http://127.0.0.1:${port}/metrics`);
    const text = await response.body.text();
    if (response.statusCode !== 200) return undefined;
    const byOutcome: Record<string, number> = {};
    for (const line of text.split('\n')) {
      const outcome = /^btpcert_reconcile_total\{outcome="([^"]+)"\} (\S+)$/.exec(line);
      if (outcome) byOutcome[outcome[1] ?? ''] = Number(outcome[2]);
    }
    return { reconciles: Object.values(byOutcome).reduce((a, b) => a + b, 0), byOutcome };
  } catch {
    return undefined;
  }
}

/**
 * Where the operator's memory is, in MB: the V8 heap by space and the memory V8 knows of outside it
 * (prom-client's default metrics on the operator's /metrics), and the resident set split into
 * anonymous memory and mapped files (the node binary and its libraries) from /proc.
 */
async function memoryBreakdown(port: number, pid: number): Promise<Record<string, number> | undefined> {
  try {
    const response = await request(`http://127.0.0.1:${port}/metrics`);
    const text = await response.body.text();
    if (response.statusCode !== 200) return undefined;
    const figures: Record<string, number> = {};
    const metric = (name: string, key: string) => {
      const value = new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1];
      if (value !== undefined) figures[key] = round(Number(value) / MB);
    };
    metric('process_resident_memory_bytes', 'rss');
    metric('nodejs_heap_size_total_bytes', 'heapTotal');
    metric('nodejs_heap_size_used_bytes', 'heapUsed');
    metric('nodejs_external_memory_bytes', 'external');
    for (const m of text.matchAll(/^nodejs_heap_space_size_(total|used)_bytes\{space="(\w+)"\} (\S+)$/gm))
      if (Number(m[3]) >= 0.05 * MB) figures[`${m[2]}.${m[1]}`] = round(Number(m[3]) / MB);
    if (cgroup !== undefined) {
      const c = cgroup.figures();
      Object.assign(figures, {
        'cgroup.usage': round(c.usage / MB),
        'cgroup.workingSet': round(c.workingSet / MB),
        'cgroup.peak': round(c.peak / MB),
        'cgroup.oomKills': c.oomKills,
      });
    }
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    for (const field of ['RssAnon', 'RssFile'])
      figures[field] = round(
        Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0) / 1024,
      );
    return figures;
  } catch {
    return undefined;
  }
}

function perCertificate(requests: RequestSummary, n: number): Record<string, number> {
  return Object.fromEntries(
    Object.entries(requests.byVerbAndResource).map(([key, count]) => [key, round(count / n, 2)]),
  );
}

/** The operator's main script: src/main.ts, or a build of it like the image's. */
function operatorEntry(): { entry: string; nodeArgs: string[] } {
  if (values.from === 'src') return { entry: join(REPO_ROOT, 'src/main.ts'), nodeArgs: [] };
  const outDir = join(REPO_ROOT, '.tmp/bench-dist');
  log(`building the operator into ${outDir}`);
  execFileSync(
    process.execPath,
    [join(REPO_ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json', '--outDir', outDir],
    { cwd: REPO_ROOT, stdio: 'inherit' },
  );
  // The image's node flags (Dockerfile ENTRYPOINT).
  return { entry: join(outDir, 'start.js'), nodeArgs: ['--max-semi-space-size=2'] };
}
const EXTRA_NODE_ARGS = values['node-args'].split(' ').filter(Boolean);

let entry: { entry: string; nodeArgs: string[] } | undefined;
let operatorToken: string | undefined;

function operatorArgs(
  kubeconfig: string,
  namespace: string,
  port: number,
  o: { cpuProfDir?: string | undefined; logLevel?: string } = {},
) {
  if (entry === undefined || operatorToken === undefined) throw new Error('operatorEntry() first');
  return {
    entry: entry.entry,
    operatorToken,
    kubeconfig,
    namespaces: [namespace],
    healthPort: port,
    logLevel: o.logLevel ?? 'info',
    nodeArgs: [
      ...entry.nodeArgs,
      ...EXTRA_NODE_ARGS,
      ...(o.cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${o.cpuProfDir}`] : []),
    ],
    ...(values.concurrency ? { extraArgs: ['--concurrency', values.concurrency] } : {}),
    ...(cgroup ? { cgroup: cgroup.dir } : {}),
  };
}

/**
 * Starts the operator with `n` BTPCertificates waiting in `namespace` and measures until all are
 * Ready: time, latency from the process start, CPU, peak RSS, API requests. The operator keeps running.
 */
async function coldIssuance(o: {
  client: KubeConfig;
  metrics: ApiServerMetrics;
  namespace: string;
  n: number;
  spawn: () => OperatorProcess;
}): Promise<{ operator: OperatorProcess; pid: number; figures: Results }> {
  const readiness = new ReadinessWatch(o.client, o.namespace);
  await readiness.start();
  const before = await o.metrics.scrape();
  const started = performance.now();
  const operator = o.spawn();
  const pid = operator.child.pid ?? 0;
  const rss = new RssWatcher(pid);
  try {
    // An operator that dies (e.g. killed for memory under --memory-limit) ends the wait at once.
    const died = operator.exited.then((how) => {
      const oom = cgroup === undefined ? '' : `, OOM kills in its cgroup: ${cgroup.figures().oomKills}`;
      throw new Error(`the operator exited (${String(how)}${oom}) before all were Ready`);
    });
    died.catch(() => {}); // also when it is stopped at the end, after the wait
    await Promise.race([readiness.waitFor(o.n, Math.max(300_000, o.n * 500)), died]);
  } finally {
    readiness.stop();
  }
  const allReady = performance.now() - started;
  const cpu = sampleProcess(pid);
  const requests = summarize(requestDelta(await o.metrics.scrape(), before));
  const latencies = [...readiness.readyAt.values()].map((t) => t - started).sort((a, b) => a - b);
  return {
    operator,
    pid,
    figures: {
      secondsUntilAllReady: seconds(allReady),
      certificatesPerSecond: round(o.n / (allReady / 1000)),
      latencySeconds: {
        p50: seconds(percentile(latencies, 0.5)),
        p95: seconds(percentile(latencies, 0.95)),
        p99: seconds(percentile(latencies, 0.99)),
        first: seconds(latencies[0] ?? Number.NaN),
      },
      cpuSeconds: round(cpu.cpuSeconds, 2),
      cpuMsPerCertificate: round((cpu.cpuSeconds * 1000) / o.n),
      peakRssMB: round(rss.stop() / MB),
      rssAtEndMB: round(cpu.rssBytes / MB),
      writesPerCertificate: round(requests.writesExceptLeases / o.n, 2),
      readsPerCertificate: round(requests.reads / o.n, 2),
      requestsPerCertificate: perCertificate(requests, o.n),
      requests,
      note: 'latency from the operator process start; requests: all clients of the API server (the controller-manager included), the benchmark keeps to one watch',
    },
  };
}

/**
 * The simulator's Service Manager access Secret `sm-access` and `n` BTPCertificates of its Service
 * Manager source (named `sm-<i>`) in a new `namespace`.
 */
async function smCertificates(client: KubeConfig, sim: Simulator, namespace: string, n: number) {
  const core = client.makeApiClient(CoreV1Api);
  const custom = client.makeApiClient(CustomObjectsApi);
  await createNamespace(core, namespace);
  await core.createNamespacedSecret({
    namespace,
    body: { metadata: { name: 'sm-access' }, stringData: kymaSecretData(sim.smCredentials.x509) },
  });
  await inParallel(n, PARALLEL, (i) =>
    custom.createNamespacedCustomObject({
      ...G,
      namespace,
      body: {
        apiVersion: 'btpcerts.io/v1alpha1',
        kind: 'BTPCertificate',
        metadata: { name: `sm-${i}` },
        spec: { secretName: `tls-sm-${i}`, source: smSource() },
      },
    }),
  );
}

const spawnWithSimulator = (kubeconfig: string, namespace: string, port: number, sim: Simulator) =>
  spawnOperator({ ...operatorArgs(kubeconfig, namespace, port), btpCaPem: sim.caBundlePem });

/** Requests the simulator answered, by route. */
function btpRequests(counters: SimulatorCounters): Record<string, number> {
  return Object.fromEntries(
    Object.entries(counters.requests).map(([route, byStatus]) => [
      route,
      Object.values(byStatus ?? {}).reduce((a, b) => a + b, 0),
    ]),
  );
}

/**
 * How hard the operator used the simulator's Service Manager between `fromMs` and `toMs`: the
 * busiest minute of binding calls (all requests under /v1/service_bindings; documented limit
 * 600/min per caller) and of all SM calls (1,000/min), and the 429s of its documented limits.
 */
function smLoad(counters: SimulatorCounters, fromMs: number, toMs: number): Results {
  const times = (routes: readonly Route[]) =>
    routes
      .flatMap((route) => counters.requestTimes[route] ?? [])
      .filter((t) => t >= fromMs && t <= toMs)
      .sort((a, b) => a - b);
  return {
    busiestMinuteOfBindingCalls: busiestWindow(times(BINDING_ROUTES), 60_000),
    busiestMinuteOfAllSmCalls: busiestWindow(times(SM_ROUTES), 60_000),
  };
}

/** Answers with 429 of the simulator's documented rate limits, all routes. */
const rejectedWith429 = (counters: SimulatorCounters) =>
  Object.values(counters.requests).reduce((n, byStatus) => n + (byStatus?.['429'] ?? 0), 0);

/** Cold issuance through the Service Manager of the BTP simulator, token check on. */
async function coldServiceManager(
  kubeconfig: string,
  client: KubeConfig,
  metrics: ApiServerMetrics,
  port: number,
): Promise<Results> {
  const namespace = 'bench-sm';
  log(`cold-sm: filling the simulator's key pool with ${N_SM} keys first`);
  const sim = await startSimulator({ keyPool: { size: N_SM, concurrency: 2 }, smRateLimits: 'documented' });
  let operator: OperatorProcess | undefined;
  try {
    await sim.whenKeyPoolFull();
    await smCertificates(client, sim, namespace, N_SM);
    sim.resetCounters();
    const cold = await coldIssuance({
      client,
      metrics,
      namespace,
      n: N_SM,
      spawn: () => spawnWithSimulator(kubeconfig, namespace, port, sim),
    });
    operator = cold.operator;
    const counters = sim.counters();
    return {
      source: 'serviceManager (BTP simulator), token check on, its documented rate limits on',
      n: N_SM,
      ...cold.figures,
      btpRequests: btpRequests(counters),
      ...smLoad(counters, 0, Number.POSITIVE_INFINITY),
      smRejectedWith429: rejectedWith429(counters),
    };
  } finally {
    await operator?.stop();
    await sim.stop();
  }
}

/**
 * The renewal wave: N_RENEW certificates of the Service Manager source issued together with a
 * RENEW_LIFETIME_S lifetime (the simulator's override), observed until each has renewed once.
 */
async function renewalWave(
  kubeconfig: string,
  client: KubeConfig,
  metrics: ApiServerMetrics,
  port: number,
): Promise<Results> {
  const namespace = 'bench-renew';
  log(`renewal: filling the simulator's key pool with ${N_RENEW} keys first`);
  const sim = await startSimulator({
    keyPool: { size: N_RENEW, concurrency: 2 },
    smRateLimits: 'documented',
    lifetimeOverrideSeconds: RENEW_LIFETIME_S,
  });
  let operator: OperatorProcess | undefined;
  try {
    await sim.whenKeyPoolFull();
    await smCertificates(client, sim, namespace, N_RENEW);
    sim.resetCounters();
    const renewals = new RenewalLog();
    const watch = new ReadinessWatch(client, namespace, (obj) => renewals.observe(obj, Date.now()));
    await watch.start();
    const before = await metrics.scrape();
    const startMs = Date.now();
    log(`renewal: ${N_RENEW} certificates of ${RENEW_LIFETIME_S} s, until each has renewed once`);
    operator = spawnWithSimulator(kubeconfig, namespace, port, sim);
    const pid = operator.child.pid ?? 0;
    let allReadyMs = Number.NaN;
    try {
      await watch.waitFor(N_RENEW, Math.max(300_000, N_RENEW * 2_000));
      allReadyMs = Date.now();
      log(`renewal: all issued after ${seconds(allReadyMs - startMs)} s`);
      await waitUntil(
        () => renewals.renewedCount >= N_RENEW,
        RENEW_LIFETIME_S * 1000 + Math.max(300_000, N_RENEW * 2_000),
        () => `only ${renewals.renewedCount} of ${N_RENEW} renewed`,
      );
    } finally {
      watch.stop();
    }
    const counters = sim.counters();
    const statuses = (route: Route) => counters.requests[route] ?? {};
    const requests = summarize(requestDelta(await metrics.scrape(), before));
    return {
      source: 'serviceManager (BTP simulator), token check on, its documented rate limits on',
      n: N_RENEW,
      lifetimeSeconds: RENEW_LIFETIME_S,
      secondsUntilAllIssued: seconds(allReadyMs - startMs),
      secondsUntilAllRenewed: seconds(Date.now() - startMs),
      ...renewals.summary(startMs),
      smIssuance: smLoad(counters, startMs, allReadyMs),
      smRenewal: smLoad(counters, allReadyMs, Number.POSITIVE_INFINITY),
      smRejectedWith429: rejectedWith429(counters),
      bindingsCreated: counters.bindingsCreated,
      bindingsDeleted: counters.bindingsDeleted,
      createBindingStatuses: statuses('sm.createBinding'),
      btpRequests: btpRequests(counters),
      cpuSeconds: round(sampleProcess(pid).cpuSeconds, 2),
      writesPerCertificate: round(requests.writesExceptLeases / N_RENEW, 2),
      requests,
      note: 'served: the watch first saw the status with the next certificate (the Secret is written before the status); times since the operator started; shares of the first certificate lifetime; smIssuance until all were Ready, smRenewal after; binding calls: all requests under /v1/service_bindings (documented limit 600/min per caller)',
    };
  } finally {
    await operator?.stop();
    await sim.stop();
  }
}

async function main(): Promise<void> {
  log('starting a private control plane');
  const controlPlane = await ControlPlane.start({ log: () => {} });
  let operator: OperatorProcess | undefined;
  try {
    await controlPlane.installCRDs(join(REPO_ROOT, 'crds'));
    results.environment = environment(controlPlane.version);
    const admin = kubeConfigFromFile(controlPlane.kubeconfigPath);
    // The operator runs as its ServiceAccount, as in the integration tests (operator-identity.ts).
    operatorToken = await installOperatorIdentity(admin);
    const client = keptAlive(admin);
    const core = client.makeApiClient(CoreV1Api);
    const metrics = new ApiServerMetrics(admin);

    if (runs('limit')) {
      log(`limit: ${N} x (create Secret, patch status, create Event), ${PARALLEL} at a time, kept-alive`);
      results.limit = await limit(admin, client, 'bench-limit');
      log(`limit: ${JSON.stringify(results.limit)}`);
    }
    if (runs('limit-plain')) {
      log('limit-plain: the same through client-node as it comes (a connection per request)');
      results.limitPlain = await limit(admin, admin, 'bench-limit-plain');
      log(`limit-plain: ${JSON.stringify(results.limitPlain)}`);
    }

    entry = operatorEntry();
    const port = await freePort();
    if (runs('cold-sm') && N_SM > 0) {
      results.coldServiceManager = await coldServiceManager(
        controlPlane.kubeconfigPath,
        client,
        metrics,
        port,
      );
      log(`cold-sm: ${JSON.stringify(results.coldServiceManager)}`);
    }
    if (runs('renewal') && N_RENEW > 0) {
      results.renewal = await renewalWave(controlPlane.kubeconfigPath, client, metrics, port);
      log(`renewal: ${JSON.stringify(results.renewal)}`);
    }
    const needsOperator = runs('cold') || runs('idle') || runs('secrets') || runs('restart');
    if (!needsOperator) return;

    const namespace = 'bench-scale';
    await createNamespace(core, namespace);
    log(`cold: creating ${N} source Secrets (distinct leaf certificates) and ${N} BTPCertificates`);
    const credentials = distinctBindingCredentials(N);
    const custom = client.makeApiClient(CustomObjectsApi);
    await inParallel(N, PARALLEL, async (i) => {
      await core.createNamespacedSecret({
        namespace,
        body: { metadata: { name: `src-${i}` }, stringData: credentials[i] ?? {} },
      });
      await custom.createNamespacedCustomObject({
        ...G,
        namespace,
        body: certificateBody(`c-${i}`, `src-${i}`),
      });
    });

    const profileDir = values['cpu-prof'] ? join(REPO_ROOT, 'bench/results/profiles') : undefined;
    if (profileDir) mkdirSync(profileDir, { recursive: true });
    const cold = await coldIssuance({
      client,
      metrics,
      namespace,
      n: N,
      spawn: () =>
        spawnOperator(operatorArgs(controlPlane.kubeconfigPath, namespace, port, { cpuProfDir: profileDir })),
    });
    operator = cold.operator;
    const pid = cold.pid;
    results.cold = {
      source: 'secret, token check off',
      ...cold.figures,
      memoryMB: await memoryBreakdown(port, pid),
    };
    log(`cold: ${JSON.stringify(results.cold)}`);

    if (runs('idle')) {
      log(`idle: ${IDLE_SECONDS} s with all Ready`);
      await sleep(2_000);
      const before = {
        requests: await metrics.scrape(),
        cpu: sampleProcess(pid),
        op: await operatorMetrics(port),
      };
      const rss = new RssWatcher(pid);
      await sleep(IDLE_SECONDS * 1000);
      const after = {
        requests: await metrics.scrape(),
        cpu: sampleProcess(pid),
        op: await operatorMetrics(port),
      };
      const requests = summarize(requestDelta(after.requests, before.requests));
      const cpu = after.cpu.cpuSeconds - before.cpu.cpuSeconds;
      results.idle = {
        seconds: IDLE_SECONDS,
        writes: requests.writes,
        writesExceptLeases: requests.writesExceptLeases,
        reads: requests.reads,
        cpuSeconds: round(cpu, 2),
        cpuPercentOfACore: round((100 * cpu) / IDLE_SECONDS, 2),
        reconciles: (after.op?.reconciles ?? Number.NaN) - (before.op?.reconciles ?? Number.NaN),
        reconcilesByOutcome: Object.fromEntries(
          Object.entries(after.op?.byOutcome ?? {}).map(([k, n]) => [k, n - (before.op?.byOutcome[k] ?? 0)]),
        ),
        rssMB: round(after.cpu.rssBytes / MB),
        peakRssMB: round(rss.stop() / MB),
        memoryMB: await memoryBreakdown(port, pid),
        requests,
      };
      log(`idle: ${JSON.stringify(results.idle)}`);
    }

    if (runs('secrets') && M > 0) {
      log(`secrets: adding ${M} unrelated 100 KB Secrets to ${namespace}`);
      const before = sampleProcess(pid);
      const rss = new RssWatcher(pid);
      const payload = Buffer.alloc(100 * 1024, 7)
        .toString('base64')
        .slice(0, 100 * 1024);
      const added = performance.now();
      await inParallel(M, 8, (i) =>
        core.createNamespacedSecret({
          namespace,
          body: { metadata: { name: `unrelated-${i}` }, stringData: { blob: payload } },
        }),
      );
      const addMs = performance.now() - added;
      await sleep(10_000);
      const after = sampleProcess(pid);
      results.secrets = {
        m: M,
        secondsToAdd: seconds(addMs),
        rssBeforeMB: round(before.rssBytes / MB),
        rssAfterMB: round(after.rssBytes / MB),
        peakRssMB: round(rss.stop() / MB),
        cpuSeconds: round(after.cpuSeconds - before.cpuSeconds, 2),
        memoryMB: await memoryBreakdown(port, pid),
        note: 'RSS 10 s after the last Secret was created',
      };
      log(`secrets: ${JSON.stringify(results.secrets)}`);
    }

    const firstRun = sampleProcess(pid);
    results.operatorProcess = {
      cpuSeconds: round(firstRun.cpuSeconds, 2),
      peakRssMB: round(firstRun.peakRssBytes / MB),
    };
    log('stopping the operator');
    await operator.stop();
    operator = undefined;

    if (runs('restart')) {
      log(`restart: starting again with ${N} Ready`);
      const before = await metrics.scrape();
      const restarted = performance.now();
      // Debug logging: a line per reconcile, to tell which certificates were confirmed.
      operator = spawnOperator(
        operatorArgs(controlPlane.kubeconfigPath, namespace, port, { logLevel: 'debug' }),
      );
      const restartPid = operator.child.pid ?? 0;
      const rss = new RssWatcher(restartPid);
      const confirmations = new ConfirmationLog(operator.logFile, `${namespace}/`);
      let confirmedMs = Number.NaN;
      let confirmedCount = 0;
      const deadline = restarted + Math.max(300_000, N * 200);
      while (performance.now() < deadline) {
        confirmedCount = confirmations.poll();
        if (confirmedCount >= N) {
          confirmedMs = performance.now() - restarted;
          break;
        }
        await sleep(250);
      }
      const counts = await operatorMetrics(port);
      const atConfirmed = summarize(requestDelta(await metrics.scrape(), before));
      await sleep(5_000);
      const later = summarize(requestDelta(await metrics.scrape(), before));
      const cpu = sampleProcess(restartPid);
      results.restart = {
        secondsUntilAllConfirmed: seconds(confirmedMs),
        confirmed: confirmedCount,
        writesUntilConfirmed: atConfirmed.writes,
        writesIncluding5sAfter: later.writes,
        writesExceptLeasesIncluding5sAfter: later.writesExceptLeases,
        readsUntilConfirmed: atConfirmed.reads,
        cpuSeconds: round(cpu.cpuSeconds, 2),
        peakRssMB: round(rss.stop() / MB),
        reconcilesUntilConfirmed: counts?.byOutcome,
        reconciles5sAfter: (await operatorMetrics(port))?.byOutcome,
        requests: later,
        note: `confirmed: each of the N certificates had a reconcile that ended with a requeue (the operator's debug log, read every 250 ms; the operator runs at --log-level debug here, a line per reconcile); time from the process start`,
      };
      log(`restart: ${JSON.stringify(results.restart)}`);
    }
    await metrics.close();
    await client.close();
  } finally {
    await operator?.stop();
    await controlPlane.stop();
    cgroup?.remove();
  }
}

function markdown(r: Results): string {
  const env = r.environment as Record<string, unknown>;
  const lines = [
    `# Scale benchmark, N=${N}, M=${M}, Service Manager N=${N_SM}, renewal wave N=${N_RENEW} of ${RENEW_LIFETIME_S} s`,
    '',
    `${env.date}, commit ${env.commit}${env.dirty ? ' (with uncommitted changes)' : ''}, ${env.cpus} CPUs (${env.cpuModel}), ${env.memoryGB} GB, Node ${env.node}, Kubernetes ${env.kubernetes}, load average at start ${env.loadAverageAtStart}.`,
    ...(env.note ? ['', `Note: ${env.note}`] : []),
    '',
  ];
  const section = (title: string, key: string) => {
    const v = r[key];
    if (v === undefined) return;
    lines.push(`## ${title}`, '', '| figure | value |', '| --- | --- |');
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
      if (k === 'requests') continue;
      lines.push(`| ${k} | ${typeof x === 'object' ? `\`${JSON.stringify(x)}\`` : String(x)} |`);
    }
    const requests = (v as { requests?: RequestSummary }).requests;
    if (requests) {
      lines.push(
        '',
        'API requests (apiserver_request_total delta):',
        '',
        '| verb resource | count |',
        '| --- | --- |',
      );
      for (const [k, n] of Object.entries(requests.byVerbAndResource)) lines.push(`| ${k} | ${n} |`);
    }
    lines.push('');
  };
  section('1. The limit: unavoidable writes, kept-alive client', 'limit');
  section("1b. The same through client-node's per-request connections", 'limitPlain');
  section('2. Cold issuance', 'cold');
  section('3. Idle', 'idle');
  section('4. Unrelated Secrets', 'secrets');
  section('6. Restart', 'restart');
  section('2b. Cold issuance, Service Manager source, token check on', 'coldServiceManager');
  section('5. Renewal wave, Service Manager source', 'renewal');
  section('Operator process (first run)', 'operatorProcess');
  section('Benchmark process', 'benchmarkProcess');
  const limitSeconds = (r.limit as { seconds?: number } | undefined)?.seconds;
  const coldSeconds = (r.cold as { secondsUntilAllReady?: number } | undefined)?.secondsUntilAllReady;
  if (limitSeconds && coldSeconds)
    lines.push(`Cold issuance ran at ${round(limitSeconds / coldSeconds, 2)} of the limit.`, '');
  return lines.join('\n');
}

await main();
results.benchmarkProcess = {
  seconds: seconds(performance.now() - benchStarted),
  peakRssMB: round(sampleProcess(process.pid).peakRssBytes / MB),
  note: 'the whole run, and the benchmark process itself (not the operator)',
};
const outDir = join(REPO_ROOT, 'bench/results');
mkdirSync(outDir, { recursive: true });
const stamp = new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19);
const secretParts = runs('cold') || runs('idle') || runs('secrets') || runs('restart');
const base = join(
  outDir,
  `scale-${stamp}${secretParts ? `-n${N}` : ''}${runs('cold-sm') && N_SM > 0 ? `-sm${N_SM}` : ''}${runs('renewal') && N_RENEW > 0 ? `-renew${N_RENEW}` : ''}`,
);
writeFileSync(`${base}.json`, `${JSON.stringify(results, null, 2)}\n`);
writeFileSync(`${base}.md`, markdown(results));
log(`results: ${base}.md and .json`);
process.exit(0);
