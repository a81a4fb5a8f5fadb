// The operator as a process of its own (node src/main.ts), for tests that kill it. Like the
// in-process one it authenticates as its own ServiceAccount (operator-identity.ts).
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inject } from 'vitest';
import { LOOPBACK_HOSTS } from './allowed-hosts.ts';
import { REPO_ROOT } from './control-plane/binaries.ts';
import { kubeConfigFromFile } from './kube.ts';
import { asOperator } from './operator-identity.ts';

export type OperatorProcess = {
  readonly child: ChildProcess;
  readonly logFile: string;
  /** Resolves with the signal (or exit code) the process ended with. */
  readonly exited: Promise<NodeJS.Signals | number | null>;
  stop(): Promise<void>;
};

export function spawnOperator(options: {
  /** A kubeconfig of the control plane (its cluster is used; its user is not). */
  kubeconfig: string;
  namespaces: readonly string[];
  btpCaPem?: string;
  failpoint?: string;
  /** /healthz, /readyz and /metrics on this port; absent: none. */
  healthPort?: number;
  /** Default: debug. */
  logLevel?: string;
  /** Flags for node itself, e.g. --cpu-prof. */
  nodeArgs?: readonly string[];
  /** More operator flags. */
  extraArgs?: readonly string[];
  /** The operator's ServiceAccount token; default the global setup's (a benchmark outside vitest passes its own). */
  operatorToken?: string;
  /** The script to run; default src/main.ts (a build's dist/main.js runs as the image does). */
  entry?: string;
  /** A cgroup directory the process joins before node starts (a benchmark's memory limit). */
  cgroup?: string;
}): OperatorProcess {
  const dir = mkdtempSync(join(tmpdir(), 'btpcerts-operator-process-'));
  const kubeconfig = join(dir, 'kubeconfig');
  writeFileSync(
    kubeconfig,
    asOperator(
      kubeConfigFromFile(options.kubeconfig),
      options.operatorToken ?? inject('operatorToken'),
    ).exportConfig(),
    { mode: 0o600 },
  );
  const args = [
    ...(options.nodeArgs ?? []),
    options.entry ?? join(REPO_ROOT, 'src/main.ts'),
    '--kubeconfig',
    kubeconfig,
    '--namespaces',
    options.namespaces.join(','),
    '--health-port',
    String(options.healthPort ?? 0),
    '--log-level',
    options.logLevel ?? 'debug',
    // Before the test's own arguments, which may replace it.
    '--allowed-hosts',
    LOOPBACK_HOSTS,
    ...(options.extraArgs ?? []),
  ];
  if (options.btpCaPem !== undefined) {
    const caFile = join(dir, 'btp-ca.pem');
    writeFileSync(caFile, options.btpCaPem);
    args.push('--btp-ca-file', caFile);
  }
  const logFile = join(dir, 'operator.log');
  // The child writes its log straight into the file: through a pipe, its synchronous log writes
  // would wait on this process's event loop.
  const log = openSync(logFile, 'a');
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.BTPCERTS_FAILPOINT;
  if (options.failpoint !== undefined) env.BTPCERTS_FAILPOINT = options.failpoint;
  // In a cgroup: a shell joins it and then becomes node, so node sizes its heap from its limit.
  const child =
    options.cgroup === undefined
      ? spawn(process.execPath, args, { env, stdio: ['ignore', log, log] })
      : spawn(
          '/bin/sh',
          ['-c', 'echo $$ > "$0/cgroup.procs" && exec "$@"', options.cgroup, process.execPath, ...args],
          { env, stdio: ['ignore', log, log] },
        );
  closeSync(log);
  const exited = new Promise<NodeJS.Signals | number | null>((resolve) =>
    child.once('exit', (code, signal) => resolve(signal ?? code)),
  );
  return {
    child,
    logFile,
    exited,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}
