// One child process of the control plane (etcd, kube-apiserver, kube-controller-manager): output
// appended to a log file, an AbortSignal that fires when it exits, a graceful stop, and a kill
// registered with the exit hooks so that it never outlives its owner.
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, fstatSync, openSync, writeSync } from 'node:fs';
import { open, readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { cleanupOnExit } from './teardown.ts';

export interface ProcessSpec {
  /** Short name used in messages: "etcd", "kube-apiserver". */
  readonly name: string;
  /** Absolute path of the binary; also argv[0], which the leftover reaper compares. */
  readonly binary: string;
  readonly args: readonly string[];
  /** stdout and stderr are appended here. */
  readonly logPath: string;
}

export interface ExitInfo {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export function describeExit(exit: ExitInfo): string {
  return exit.signal === null ? `exit code ${exit.code}` : `signal ${exit.signal}`;
}

export class ManagedProcess {
  readonly name: string;
  readonly binary: string;
  readonly pid: number;
  readonly logPath: string;
  readonly #child: ChildProcess;
  readonly #exited: Promise<ExitInfo>;
  readonly #exitController = new AbortController();
  #exit: ExitInfo | undefined;
  readonly #unregister: () => void;
  readonly #logOffset: number;

  private constructor(spec: ProcessSpec, child: ChildProcess, pid: number, logOffset: number) {
    this.name = spec.name;
    this.binary = spec.binary;
    this.pid = pid;
    this.logPath = spec.logPath;
    this.#logOffset = logOffset;
    this.#child = child;
    this.#exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        const exit = { code, signal };
        this.#exit = exit;
        this.#unregister();
        this.#exitController.abort(new Error(`${spec.name} exited (${describeExit(exit)})`));
        resolve(exit);
      });
    });
    this.#unregister = cleanupOnExit(() => {
      if (this.#exit === undefined) child.kill('SIGKILL');
    });
  }

  static spawn(spec: ProcessSpec): Promise<ManagedProcess> {
    const fd = openSync(spec.logPath, 'a');
    try {
      writeSync(
        fd,
        `\n=== ${spec.name} started by the test harness: ${spec.binary} ${spec.args.join(' ')}\n`,
      );
      const logOffset = fstatSync(fd).size;
      const child = spawn(spec.binary, spec.args, {
        stdio: ['ignore', fd, fd],
        // Same process group as the owner: Ctrl-C in a terminal reaches the children too.
        detached: false,
      });
      return new Promise((resolve, reject) => {
        child.once('error', (error) =>
          reject(new Error(`${spec.name}: cannot start ${spec.binary}: ${error.message}`)),
        );
        child.once('spawn', () => {
          if (child.pid === undefined) reject(new Error(`${spec.name}: no pid after spawn`));
          else resolve(new ManagedProcess(spec, child, child.pid, logOffset));
        });
      });
    } finally {
      closeSync(fd);
    }
  }

  get running(): boolean {
    return this.#exit === undefined;
  }

  /** Resolves when the process has exited, for whatever reason. */
  get exited(): Promise<ExitInfo> {
    return this.#exited;
  }

  /** Aborted (with an Error naming the exit status) once the process exits. */
  get exitSignal(): AbortSignal {
    return this.#exitController.signal;
  }

  /** The last `lines` lines this run of the process wrote to its log (earlier runs excluded). */
  async recentLog(lines = 40): Promise<string> {
    try {
      const file = await open(this.logPath, 'r');
      try {
        const { size } = await file.stat();
        // Only the end matters; 64 KiB holds far more than `lines` lines of any component.
        const from = Math.max(this.#logOffset, size - 64 * 1024);
        const buffer = Buffer.alloc(Math.max(0, size - from));
        await file.read(buffer, 0, buffer.length, from);
        return lastLines(buffer.toString('utf8'), lines);
      } finally {
        await file.close();
      }
    } catch (error) {
      return `(cannot read ${this.logPath}: ${error instanceof Error ? error.message : String(error)})`;
    }
  }

  /** SIGTERM, then SIGKILL if it is still running after `graceMs`. */
  async stop(graceMs: number): Promise<ExitInfo> {
    if (this.#exit !== undefined) return this.#exit;
    this.#child.kill('SIGTERM');
    const graceful = await Promise.race([this.#exited, sleep(graceMs, undefined, { ref: false })]);
    if (graceful !== undefined) return graceful;
    this.#child.kill('SIGKILL');
    return this.#exited;
  }
}

/** The last `lines` lines of a log file, or a note that it cannot be read. */
export async function logTail(path: string, lines = 40): Promise<string> {
  try {
    return lastLines(await readFile(path, 'utf8'), lines);
  } catch (error) {
    return `(cannot read ${path}: ${error instanceof Error ? error.message : String(error)})`;
  }
}

function lastLines(text: string, lines: number): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}
