// The image's runtime stage, read from the Dockerfile (no image can be built on the test machine:
// no container engine, no registry; README "Install in a cluster"): a distroless base, so no shell
// and no npm; nothing run in it; node_modules from the stage that installed production
// dependencies only; a numeric non-root user (Kubernetes' runAsNonRoot can verify only a number);
// SIGTERM as the stop signal, which the operator handles (it releases its Lease).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const text = readFileSync(new URL('../../Dockerfile', import.meta.url), 'utf8');
/** Instructions, comments and continuations resolved, grouped by stage. */
const stages = text
  .replace(/\\\n/g, ' ')
  .split('\n')
  .map((line) => line.trim())
  .filter((line) => line !== '' && !line.startsWith('#'))
  .reduce<string[][]>((acc, line) => {
    if (/^FROM /i.test(line)) acc.push([line]);
    else acc.at(-1)?.push(line);
    return acc;
  }, []);
const runtime = stages.at(-1) ?? [];
const instruction = (stage: string[], name: string) =>
  stage.filter((l) => l.toUpperCase().startsWith(`${name} `));
const stageNamed = (name: string) => stages.find((s) => new RegExp(` AS ${name}$`, 'i').test(s[0] ?? ''));

describe('the Dockerfile', () => {
  it('runs on a distroless Node.js base: no shell, no npm, nothing run in the runtime stage', () => {
    expect(runtime[0]).toMatch(/^FROM gcr\.io\/distroless\/nodejs24-debian12(:|@)/);
    expect(instruction(runtime, 'RUN')).toEqual([]);
    // Exec form: there is no shell to run a command string.
    expect(instruction(runtime, 'ENTRYPOINT')).toEqual([
      // start.js: source maps of the operator's own code only (src/start.ts); a small young
      // generation (docs/development/scale.md).
      'ENTRYPOINT ["/nodejs/bin/node", "--max-semi-space-size=2", "dist/start.js"]',
    ]);
    expect(instruction(runtime, 'CMD')).toEqual([]);
  });

  it('copies node_modules from a stage that installed production dependencies only', () => {
    const copies = instruction(runtime, 'COPY').filter((l) => l.includes('node_modules'));
    expect(copies).toHaveLength(1);
    const from = copies[0]?.match(/--from=(\S+)/)?.[1] ?? '';
    const installs = instruction(stageNamed(from) ?? [], 'RUN');
    expect(installs).toEqual(['RUN npm ci --omit=dev --ignore-scripts']);
  });

  it('runs as a numeric non-root user and stops on SIGTERM', () => {
    const users = instruction(runtime, 'USER');
    expect(users).toHaveLength(1);
    const [uid, gid] = (users[0] ?? '').slice('USER '.length).split(':').map(Number);
    expect(uid).toBeGreaterThan(0);
    expect(gid).toBeGreaterThan(0);
    expect(instruction(runtime, 'STOPSIGNAL')).toEqual(['STOPSIGNAL SIGTERM']);
  });
});
