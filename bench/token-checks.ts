// The token check under load (`npm run bench:token-checks`): many BTPCertificates' checks at once
// through the operator's TokenChecker, against the simulator's XSUAA with BTP's documented limit
// of 60 token requests/s per subaccount switched on. Reported, never asserted.
//   limited: the operator's default bucket (10/s) and its maximum (30/s), bursts of 10
// Run with --expose-gc (npm run bench:token-checks does) for a meaningful heap figure.
//   unlimited: a bucket far above XSUAA's limit, to show what the bucket prevents
// Flags: --credentials N (distinct bindings, default 100), --checks M (per run, default 300)
import { parseArgs } from 'node:util';
import { systemClock } from '../src/runtime/clock.ts';
import { TokenChecker } from '../src/token/checker.ts';
import { type CreatedBinding, createX509Binding, smClient } from '../test/simulator/helpers.ts';
import { loopbackHosts } from '../test/support/allowed-hosts.ts';
import { startSimulator } from '../test/support/btp-simulator/simulator.ts';

const { values } = parseArgs({
  options: {
    credentials: { type: 'string', default: '100' },
    checks: { type: 'string', default: '300' },
  },
});
const credentials = Number(values.credentials);
const checks = Number(values.checks);
if (![credentials, checks].every((v) => Number.isInteger(v) && v > 0)) {
  throw new Error('--credentials and --checks must be positive integers');
}

const XSUAA_LIMIT_PER_SECOND = 60;
const sim = await startSimulator({ tokenRateLimitPerSecond: XSUAA_LIMIT_PER_SECOND, keyPool: { size: 32 } });
const sm = await smClient(sim);
const instanceId = sim.instance('xsuaa-application').id;
const bindings: CreatedBinding[] = [];
for (let i = 0; i < credentials; i++) bindings.push(await createX509Binding(sm, instanceId, `bench-${i}`));
await sm.close();

function percentile(sorted: readonly number[], fraction: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * fraction))] ?? 0;
}

async function run(label: string, perSecond: number): Promise<void> {
  const checker = new TokenChecker({
    clock: systemClock,
    caPem: sim.caBundlePem,
    allowedHosts: loopbackHosts,
    rateLimit: { perSecond, burst: perSecond },
  });
  sim.resetCounters();
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  const heapBefore = process.memoryUsage().heapUsed;
  const started = performance.now();
  const latencies: number[] = [];
  const reasons = new Map<string, number>();
  await Promise.all(
    Array.from({ length: checks }, async (_, i) => {
      const b = bindings[i % bindings.length];
      if (b === undefined) return;
      const t0 = performance.now();
      const outcome = await checker.check({
        owner: `bench/c${i % bindings.length}`,
        tokenUrl: `${String(b.credentials.certurl)}/oauth/token`,
        clientId: String(b.credentials.clientid),
        certificate: b.certificate.cert,
        key: b.certificate.key,
      });
      latencies.push(performance.now() - t0);
      const key = outcome.ok ? 'TokenIssued' : outcome.reason;
      reasons.set(key, (reasons.get(key) ?? 0) + 1);
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const counters = sim.counters();
  const sorted = latencies.sort((a, b) => a - b);
  gc?.();
  const heapMb = (process.memoryUsage().heapUsed - heapBefore) / 2 ** 20;
  console.log(
    [
      `${label.padEnd(26)} ${checks} checks of ${Math.min(checks, credentials)} credentials in ${seconds.toFixed(1)} s`,
      `(${(checks / seconds).toFixed(1)}/s)`,
      `outcomes ${JSON.stringify(Object.fromEntries(reasons))}`,
      `XSUAA answers ${JSON.stringify(counters.requests['xsuaa.certToken'] ?? {})}`,
      `handshakes ${counters.handshakes.xsuaaCert}, pools ${checker.poolCount}`,
      `latency p50 ${percentile(sorted, 0.5).toFixed(0)} ms p95 ${percentile(sorted, 0.95).toFixed(0)} ms (queue wait included)`,
      `heap ${heapMb >= 0 ? '+' : ''}${heapMb.toFixed(1)} MiB with the pools open${gc ? '' : ' (no --expose-gc)'}`,
    ].join(', '),
  );
  await checker.close();
}

console.log(`node ${process.version}; simulator XSUAA limit ${XSUAA_LIMIT_PER_SECOND} token requests/s`);
await run('limited, 10/s (default)', 10);
await run('limited, 30/s (maximum)', 30);
await run('unlimited (no bucket)', 100_000);
await sim.stop();
