// What loading the operator costs before its first certificate (issue 11, docs/development/scale.md):
// `node bench/startup-memory.ts`. Builds src/ as the image does (tsconfig.build.json, into
// .tmp/startup-memory-dist), then, each in a process of its own, loads nothing, node-forge,
// @kubernetes/client-node, or the operator's modules (dist/operator.js) with the source-map setting
// and V8 flags under test, collects garbage and prints process.memoryUsage() in MB. Reported, never
// asserted.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../test/support/control-plane/binaries.ts';

const outDir = join(REPO_ROOT, '.tmp/startup-memory-dist');
execFileSync(
  process.execPath,
  [join(REPO_ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json', '--outDir', outDir],
  { cwd: REPO_ROOT, stdio: 'inherit' },
);
// Inside outDir, so that the operator's bare imports resolve from the project's node_modules.
const probe = join(outDir, 'startup-memory-probe.mjs');
writeFileSync(
  probe,
  `import { setSourceMapsSupport } from 'node:module';
const [what, maps] = process.argv.slice(2);
if (maps === 'own') setSourceMapsSupport(true, { nodeModules: false });
if (what === 'node-forge') await import('node-forge');
if (what === 'client-node') await import('@kubernetes/client-node');
if (what === 'operator') await import('./operator.js');
globalThis.gc();
await new Promise((resolve) => setTimeout(resolve, 300));
globalThis.gc();
const mb = (bytes) => Math.round(bytes / 104857.6) / 10;
process.stdout.write(JSON.stringify(Object.fromEntries(Object.entries(process.memoryUsage()).map(([k, v]) => [k, mb(v)]))));
`,
);

const variants: ReadonlyArray<{ what: string; maps: 'none' | 'all' | 'own'; flags: string[] }> = [
  { what: 'nothing', maps: 'none', flags: [] },
  { what: 'node-forge', maps: 'none', flags: [] },
  { what: 'client-node', maps: 'none', flags: [] },
  { what: 'operator', maps: 'none', flags: [] },
  { what: 'operator', maps: 'all', flags: [] },
  { what: 'operator', maps: 'own', flags: [] },
  ...[1, 2, 4, 8].map((s) => ({
    what: 'operator',
    maps: 'own' as const,
    flags: [`--max-semi-space-size=${s}`],
  })),
];
console.log('| loaded | source maps | V8 flags | rss | heapTotal | heapUsed | external | arrayBuffers |');
console.log('| --- | --- | --- | --- | --- | --- | --- | --- |');
for (const v of variants) {
  const args = ['--expose-gc', ...(v.maps === 'all' ? ['--enable-source-maps'] : []), ...v.flags];
  const m = JSON.parse(
    execFileSync(process.execPath, [...args, probe, v.what, v.maps], { cwd: outDir, encoding: 'utf8' }),
  ) as Record<string, number>;
  const cells = [m.rss, m.heapTotal, m.heapUsed, m.external, m.arrayBuffers].join(' | ');
  console.log(`| ${v.what} | ${v.maps} | ${v.flags.join(' ') || '-'} | ${cells} |`);
}
