// Measures control-plane cold starts (binaries already built): `node bench/control-plane-start.ts [runs]`.
// Starts and stops one control plane at a time and prints each phase, plus the load average,
// since on a shared 2-core machine the numbers move with whatever else runs.
import { loadavg } from 'node:os';
import { ControlPlane } from '../test/support/control-plane/control-plane.ts';

const runs = Number(process.argv[2] ?? '5');
const results: { startupMs: number; totalMs: number; stopMs: number }[] = [];
for (let i = 1; i <= runs; i++) {
  const t0 = performance.now();
  const controlPlane = await ControlPlane.start();
  const totalMs = performance.now() - t0;
  const t1 = performance.now();
  await controlPlane.stop();
  const stopMs = performance.now() - t1;
  results.push({ startupMs: controlPlane.startupMs, totalMs, stopMs });
  const load = loadavg()
    .map((l) => l.toFixed(1))
    .join(' ');
  console.log(
    `run ${i}: ${controlPlane.version} ready ${(controlPlane.startupMs / 1000).toFixed(1)}s after the first spawn, ` +
      `${(totalMs / 1000).toFixed(1)}s including PKI and binary lookup; stop ${(stopMs / 1000).toFixed(1)}s; load ${load}`,
  );
}
const sorted = results.map((r) => r.startupMs).sort((a, b) => a - b);
const median = sorted[Math.floor(sorted.length / 2)] ?? 0;
console.log(`median ready time over ${runs} runs: ${(median / 1000).toFixed(1)}s`);
