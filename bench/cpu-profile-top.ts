// Where a V8 CPU profile (.cpuprofile, from `node --cpu-prof`) spent its time: the top functions
// by self time, the top places by package or source folder, and the operator's own functions by
// total (self plus callees) time. `node bench/cpu-profile-top.ts FILE [--top 25]`
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

type ProfileNode = {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
  readonly children?: readonly number[];
};
type Profile = {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
};

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { top: { type: 'string', default: '25' } },
});
const file = positionals[0];
if (file === undefined) throw new Error('usage: node bench/cpu-profile-top.ts FILE.cpuprofile [--top N]');
const top = Number(values.top);
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;

const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const selfUs = new Map<number, number>();
profile.samples.forEach((id, i) => {
  selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
});
const totalUs = [...selfUs.values()].reduce((a, b) => a + b, 0);

function where(url: string): string {
  if (url === '') return '(native/V8)';
  const modules = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (modules) return modules[1] ?? url;
  // The operator's build (bench:scale --from dist) maps back to src/.
  const built = /\/(?:\.tmp\/bench-dist|dist)\/(.*)\.js$/.exec(url);
  if (built) return `src/${built[1]}.ts`;
  const ours = /\/(src|test|bench)\/(.*)$/.exec(url);
  if (ours) return `${ours[1]}/${ours[2]}`;
  if (url.startsWith('node:')) return url.split('/').slice(0, 2).join('/');
  return url;
}
const label = (n: ProfileNode) =>
  `${n.callFrame.functionName || '(anonymous)'} ${where(n.callFrame.url)}:${n.callFrame.lineNumber + 1}`;

function table(title: string, rows: Map<string, number>): void {
  console.log(`\n## ${title}\n\n| ms | % | where |\n| ---: | ---: | --- |`);
  for (const [key, us] of [...rows].sort((a, b) => b[1] - a[1]).slice(0, top))
    console.log(`| ${(us / 1000).toFixed(0)} | ${((100 * us) / totalUs).toFixed(1)} | ${key} |`);
}

const selfByFunction = new Map<string, number>();
const selfByPlace = new Map<string, number>();
const totalByOurFunction = new Map<string, number>();
for (const [id, us] of selfUs) {
  const n = byId.get(id);
  if (n === undefined) continue;
  selfByFunction.set(label(n), (selfByFunction.get(label(n)) ?? 0) + us);
  const place = where(n.callFrame.url).replace(/^(src\/[^/]+)\/.*/, '$1');
  selfByPlace.set(place, (selfByPlace.get(place) ?? 0) + us);
  // Each of our functions on the stack once, however deep the recursion.
  const seen = new Set<string>();
  for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
    const node = byId.get(cur);
    if (node === undefined || !where(node.callFrame.url).startsWith('src/')) continue;
    const key = label(node);
    if (seen.has(key)) continue;
    seen.add(key);
    totalByOurFunction.set(key, (totalByOurFunction.get(key) ?? 0) + us);
  }
}
// Who calls the costliest functions: the nearest caller with a source location.
const callers = new Map<string, Map<string, number>>();
for (const [id, us] of selfUs) {
  const n = byId.get(id);
  if (n === undefined) continue;
  let up = parent.get(id);
  while (up !== undefined && byId.get(up)?.callFrame.url === '') up = parent.get(up);
  const caller = up === undefined ? undefined : byId.get(up);
  const of = callers.get(label(n)) ?? new Map<string, number>();
  const key = caller === undefined ? '(root)' : label(caller);
  of.set(key, (of.get(key) ?? 0) + us);
  callers.set(label(n), of);
}
console.log(`# ${file}\n\n${(totalUs / 1000).toFixed(0)} ms sampled`);
table('Self time by function', selfByFunction);
table('Self time by package or source folder', selfByPlace);
table("Total time of the operator's own functions", totalByOurFunction);
console.log('\n## Nearest callers of the ten costliest functions (self time)\n');
for (const [fn] of [...selfByFunction].sort((a, b) => b[1] - a[1]).slice(0, 10)) {
  const of = [...(callers.get(fn) ?? new Map<string, number>())].sort((a, b) => b[1] - a[1]).slice(0, 3);
  console.log(`- ${fn}: ${of.map(([c, us]) => `${c} ${(us / 1000).toFixed(0)} ms`).join('; ')}`);
}
