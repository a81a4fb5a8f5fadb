// How fast the BTP simulator issues x509 bindings through its real HTTPS API
// (`npm run bench:simulator`). Reported, never asserted.
//   warm: the key pool holds enough keys for the whole run before it starts
//   cold: no pool; every binding waits for its RSA key generation
// Flags: --bindings N (per run, default 100), --concurrency C (default 8), --key-length 2048|4096
import { parseArgs } from 'node:util';
import { Agent, request } from 'undici';
import { type Simulator, startSimulator } from '../test/support/btp-simulator/simulator.ts';

interface RunResult {
  readonly label: string;
  readonly bindings: number;
  readonly seconds: number;
  readonly perSecond: number;
  readonly p50Ms: number;
  readonly p95Ms: number;
}

const { values } = parseArgs({
  options: {
    bindings: { type: 'string', default: '100' },
    concurrency: { type: 'string', default: '8' },
    'key-length': { type: 'string', default: '2048' },
  },
});
const bindingsPerRun = Number(values.bindings);
const concurrency = Number(values.concurrency);
const keyLength = Number(values['key-length']);
if (![bindingsPerRun, concurrency].every((value) => Number.isInteger(value) && value > 0)) {
  throw new Error('--bindings and --concurrency must be positive integers');
}
if (keyLength !== 2048 && keyLength !== 4096) throw new Error('--key-length must be 2048 or 4096');

async function token(sim: Simulator, agent: Agent): Promise<string> {
  const { clientid, clientsecret, url } = sim.smCredentials.secret;
  const response = await request(`${url}/oauth/token`, {
    dispatcher: agent,
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: clientid,
      client_secret: clientsecret,
    }).toString(),
  });
  const body: unknown = await response.body.json();
  if (
    typeof body !== 'object' ||
    body === null ||
    !('access_token' in body) ||
    typeof body.access_token !== 'string'
  ) {
    throw new Error(`token request failed: ${response.statusCode}`);
  }
  return body.access_token;
}

function percentile(sorted: readonly number[], fraction: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * fraction))] ?? 0;
}

async function run(sim: Simulator, label: string, parallel: number, prefix: string): Promise<RunResult> {
  const agent = new Agent({ connections: parallel, connect: { ca: sim.caBundlePem } });
  const bearer = await token(sim, agent);
  const instanceId = sim.instance('xsuaa-application').id;
  const latencies: number[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < bindingsPerRun) {
      const index = next++;
      const started = performance.now();
      const response = await request(`${sim.smUrl}/v1/service_bindings`, {
        dispatcher: agent,
        method: 'POST',
        headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          name: `${prefix}-${index}`,
          service_instance_id: instanceId,
          parameters: {
            'credential-type': 'x509',
            x509: { 'key-length': keyLength, validity: 1, 'validity-type': 'DAYS' },
          },
        }),
      });
      await response.body.dump();
      if (response.statusCode !== 201) throw new Error(`create answered ${response.statusCode}`);
      latencies.push(performance.now() - started);
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: parallel }, worker));
  const seconds = (performance.now() - started) / 1000;
  await agent.close();
  latencies.sort((a, b) => a - b);
  return {
    label,
    bindings: bindingsPerRun,
    seconds: Number(seconds.toFixed(2)),
    perSecond: Number((bindingsPerRun / seconds).toFixed(1)),
    p50Ms: Number(percentile(latencies, 0.5).toFixed(1)),
    p95Ms: Number(percentile(latencies, 0.95).toFixed(1)),
  };
}

function megabytes(bytes: number): number {
  return Number((bytes / 1024 / 1024).toFixed(1));
}

const results: RunResult[] = [];
const sizes = { 2048: 0, 4096: 0, 8192: 0 };

const warmStarted = performance.now();
const warm = await startSimulator({
  keyPool: { sizes: { ...sizes, [keyLength]: 2 * bindingsPerRun }, concurrency: 2, prefill: [keyLength] },
  tokenRateLimitPerSecond: null,
});
await warm.whenKeyPoolFull();
console.log(
  `warm pool of ${2 * bindingsPerRun} ${keyLength}-bit keys ready after ${((performance.now() - warmStarted) / 1000).toFixed(1)} s`,
);
results.push(await run(warm, 'warm, sequential', 1, 'warm-seq'));
results.push(await run(warm, `warm, concurrency ${concurrency}`, concurrency, 'warm-par'));
const memory = process.memoryUsage();
const live = Object.values(warm.counters().liveBindingsByInstance).reduce((sum, count) => sum + count, 0);
await warm.stop();

const cold = await startSimulator({ keyPool: { sizes }, tokenRateLimitPerSecond: null });
results.push(await run(cold, 'cold, sequential', 1, 'cold-seq'));
results.push(await run(cold, `cold, concurrency ${concurrency}`, concurrency, 'cold-par'));
await cold.stop();

console.log(
  `\nx509 bindings (${keyLength}-bit keys) issued through POST /v1/service_bindings over HTTPS, Node ${process.version}\n`,
);
console.table(results);
console.log(
  `memory after the warm runs (${live} live bindings): rss ${megabytes(memory.rss)} MiB, heap used ${megabytes(memory.heapUsed)} MiB`,
);
