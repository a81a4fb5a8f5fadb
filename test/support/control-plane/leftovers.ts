// Pid files for control planes, so that the next start can kill what a dead run left behind
// (an owner killed with SIGKILL cannot run its exit hooks).
//
// Each control plane writes <os.tmpdir()>/btp-cert-operator-control-planes/<id>.json with its
// owner process and its children, each identified by pid + start time (from /proc, so a reused
// pid never matches) + binary path (argv[0]). A leftover is killed only if its owner is gone and
// the live process still matches all three. Control planes of live owners (another test run,
// another engineer's session) are never touched.
import { readFileSync, rmSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve, sep } from 'node:path';

export const PID_DIR = join(tmpdir(), 'btp-cert-operator-control-planes');
/** Work dirs are created under tmpdir with this prefix; only such dirs are ever removed. */
export const WORK_DIR_PREFIX = 'btpcerts-control-plane-';

export interface ProcessIdentity {
  readonly pid: number;
  /** Field 22 of /proc/<pid>/stat (clock ticks since boot). */
  readonly startTime: string;
}

export interface ChildRecord extends ProcessIdentity {
  readonly name: string;
  readonly binary: string;
}

export interface ControlPlaneRecord {
  readonly owner: ProcessIdentity;
  readonly workDir: string;
  readonly children: readonly ChildRecord[];
}

/** The start time of a live process, or undefined if it is gone (or /proc is unavailable). */
export function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) is in parentheses and may contain spaces: split after it.
    const afterName = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return afterName[19];
  } catch {
    return undefined;
  }
}

function processArgv0(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0];
  } catch {
    return undefined;
  }
}

function isAlive(identity: ProcessIdentity): boolean {
  return processStartTime(identity.pid) === identity.startTime;
}

export function currentProcessIdentity(): ProcessIdentity {
  return { pid: process.pid, startTime: processStartTime(process.pid) ?? 'unknown' };
}

function recordPath(id: string): string {
  return join(PID_DIR, `${id}.json`);
}

export async function writeRecord(id: string, record: ControlPlaneRecord): Promise<void> {
  await mkdir(PID_DIR, { recursive: true });
  const path = recordPath(id);
  await writeFile(`${path}.tmp`, `${JSON.stringify(record, null, 2)}\n`);
  await rename(`${path}.tmp`, path);
}

export async function removeRecord(id: string): Promise<void> {
  await rm(recordPath(id), { force: true });
}

/** For exit hooks, which cannot await. */
export function removeRecordSync(id: string): void {
  rmSync(recordPath(id), { force: true });
}

/** The record entries of running children. */
export function childRecords(
  children: readonly { name: string; pid: number; binary: string }[],
): ChildRecord[] {
  return children.map(({ name, pid, binary }) => ({
    name,
    pid,
    binary,
    startTime: processStartTime(pid) ?? 'unknown',
  }));
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function parseIdentity(value: unknown): ProcessIdentity | undefined {
  if (!isObject(value)) return undefined;
  const { pid, startTime } = value;
  if (typeof pid !== 'number' || !Number.isInteger(pid) || pid <= 1 || typeof startTime !== 'string') {
    return undefined;
  }
  return { pid, startTime };
}

function parseRecord(value: unknown): ControlPlaneRecord | undefined {
  if (!isObject(value)) return undefined;
  const owner = parseIdentity(value.owner);
  const { workDir, children } = value;
  if (owner === undefined || typeof workDir !== 'string' || !Array.isArray(children)) return undefined;
  const parsed: ChildRecord[] = [];
  for (const child of children) {
    const identity = parseIdentity(child);
    if (identity === undefined || !isObject(child)) return undefined;
    if (typeof child.name !== 'string' || typeof child.binary !== 'string') return undefined;
    parsed.push({ ...identity, name: child.name, binary: child.binary });
  }
  return { owner, workDir, children: parsed };
}

function isOurWorkDir(path: string): boolean {
  const base = resolve(tmpdir()) + sep;
  const resolved = resolve(path);
  return resolved.startsWith(base + WORK_DIR_PREFIX) && !resolved.slice(base.length).includes(sep);
}

export interface ReapResult {
  readonly killed: readonly string[];
  readonly removedDirs: readonly string[];
}

/** Kills the children and removes the work dirs of control planes whose owner is dead. */
export async function reapLeftovers(): Promise<ReapResult> {
  const killed: string[] = [];
  const removedDirs: string[] = [];
  let entries: string[];
  try {
    entries = await readdir(PID_DIR);
  } catch {
    return { killed, removedDirs };
  }
  for (const entry of entries) {
    if (!entry.endsWith('.json')) continue;
    const path = join(PID_DIR, entry);
    let record: ControlPlaneRecord | undefined;
    try {
      record = parseRecord(JSON.parse(await readFile(path, 'utf8')));
    } catch {
      record = undefined;
    }
    if (record === undefined) {
      await rm(path, { force: true });
      continue;
    }
    if (isAlive(record.owner)) continue;
    for (const child of record.children) {
      if (isAlive(child) && processArgv0(child.pid) === child.binary) {
        try {
          process.kill(child.pid, 'SIGKILL');
          killed.push(`${child.name} (pid ${child.pid})`);
        } catch {
          // Already gone.
        }
      }
    }
    if (isOurWorkDir(record.workDir)) {
      await rm(record.workDir, { recursive: true, force: true, maxRetries: 3 });
      removedDirs.push(record.workDir);
    }
    await rm(path, { force: true });
  }
  return { killed, removedDirs };
}
