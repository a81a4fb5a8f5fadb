// A memory cgroup for the benchmark's operator, so that it runs under the memory limit its
// Deployment gives it (deploy/deployment.yaml) and the kernel, not a guess, says whether it fits.
// Node sizes its heap from the cgroup's limit at start, as it does in a container. cgroup v2 where
// the memory controller is available to this process, else v1 (/sys/fs/cgroup/memory). Needs
// permission to create cgroups (root on the test machine); the benchmark says so when it has none.
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export type MemoryCgroupFigures = {
  /** Bytes charged now: anonymous memory plus page cache. */
  readonly usage: number;
  /** What the kubelet calls the working set and evicts or OOM-kills on: usage less inactive file pages. */
  readonly workingSet: number;
  /** The highest usage since the cgroup was made. */
  readonly peak: number;
  /** Processes the kernel killed for memory in this cgroup. */
  readonly oomKills: number;
};

export class MemoryCgroup {
  readonly dir: string;
  readonly #v2: boolean;

  private constructor(dir: string, v2: boolean) {
    this.dir = dir;
    this.#v2 = v2;
  }

  /** A new cgroup limited to `limitBytes` (no swap), named after this process. */
  static create(limitBytes: number): MemoryCgroup {
    const v2Root = '/sys/fs/cgroup';
    const v2 =
      existsSync(join(v2Root, 'cgroup.controllers')) &&
      readFileSync(join(v2Root, 'cgroup.controllers'), 'utf8').split(/\s+/).includes('memory');
    const root = v2 ? v2Root : '/sys/fs/cgroup/memory';
    const dir = join(root, `btpcerts-bench-${process.pid}`);
    try {
      mkdirSync(dir);
      if (v2) {
        writeFileSync(join(dir, 'memory.max'), String(limitBytes));
        writeFileSync(join(dir, 'memory.swap.max'), '0');
      } else {
        writeFileSync(join(dir, 'memory.limit_in_bytes'), String(limitBytes));
        if (existsSync(join(dir, 'memory.memsw.limit_in_bytes')))
          writeFileSync(join(dir, 'memory.memsw.limit_in_bytes'), String(limitBytes));
      }
    } catch (e) {
      throw new Error(
        `--memory-limit: cannot make a memory cgroup under ${root} (${e instanceof Error ? e.message : String(e)}); run as root, or without --memory-limit`,
      );
    }
    return new MemoryCgroup(dir, v2);
  }

  figures(): MemoryCgroupFigures {
    const read = (file: string) => readFileSync(join(this.dir, file), 'utf8');
    const stat = (text: string, key: string) =>
      Number(new RegExp(`^${key} (\\d+)$`, 'm').exec(text)?.[1] ?? 0);
    if (this.#v2) {
      const usage = Number(read('memory.current'));
      return {
        usage,
        workingSet: Math.max(0, usage - stat(read('memory.stat'), 'inactive_file')),
        peak: existsSync(join(this.dir, 'memory.peak')) ? Number(read('memory.peak')) : Number.NaN,
        oomKills: stat(read('memory.events'), 'oom_kill'),
      };
    }
    const usage = Number(read('memory.usage_in_bytes'));
    return {
      usage,
      workingSet: Math.max(0, usage - stat(read('memory.stat'), 'total_inactive_file')),
      peak: Number(read('memory.max_usage_in_bytes')),
      oomKills: stat(read('memory.oom_control'), 'oom_kill'),
    };
  }

  /** Removes the cgroup once its processes have ended. */
  remove(): void {
    try {
      rmdirSync(this.dir);
    } catch {
      // Still in use (an operator that would not die) or gone: nothing to do for a benchmark.
    }
  }
}
