// Runs the operator's controller in the test process against the test control plane, with a real
// clock, the real kube boundary and a logger that writes to a file (shown when a test fails). It
// authenticates as its own ServiceAccount with deploy/rbac.yaml's grants (operator-identity.ts),
// not as the admin the test uses.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import { pino } from 'pino';
import { inject } from 'vitest';
import { parseAllowedHosts } from '../../src/btp/allowed-hosts.ts';
import type { WatchTimeouts } from '../../src/kube/watch.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { Operator, type OperatorOptions } from '../../src/operator.ts';
import type { Clock } from '../../src/runtime/clock.ts';
import { systemClock } from '../../src/runtime/clock.ts';
import { LOOPBACK_HOSTS } from './allowed-hosts.ts';
import { asOperator } from './operator-identity.ts';

export type RunningOperator = {
  readonly operator: Operator;
  readonly controller: Operator['certificates'];
  /** What the operator authenticates with: its ServiceAccount (operator-identity.ts). */
  readonly kubeConfig: KubeConfig;
  readonly logFile: string;
  stop(): Promise<void>;
};

/** `kc`'s cluster; the operator's ServiceAccount token (default: the global setup's). */
export function startOperator(
  kc: KubeConfig,
  options: {
    /** For a control plane of the test's own (installOperatorIdentity). */
    operatorToken?: string;
    namespaces?: readonly string[];
    clock?: Clock;
    resyncMs?: number;
    btpCaPem?: string;
    defaultSmCredentials?: { namespace: string; name: string };
    defaultSmCredentialsPolicy?: OperatorOptions['defaultSmCredentialsPolicy'];
    maxBindingsPerCertificate?: number;
    tokenCheckTimeoutMs?: number;
    tokenCheckRate?: number;
    leaderElection?: OperatorOptions['leaderElection'];
    /** --workload-restarts (test/integration/workload-restarts.test.ts). */
    workloadRestarts?: boolean;
    /** Short ones make watches end often (test/integration/idle-watch-restarts.test.ts). */
    watchTimeouts?: WatchTimeouts;
    /** Wraps the controller's kube boundary (test/integration/secret-write-race.test.ts). */
    wrapKube?: OperatorOptions['wrapKube'];
    /** --allowed-hosts; default: loopback, any port (test/support/allowed-hosts.ts). */
    allowedHosts?: string;
  } = {},
): RunningOperator {
  const logFile = join(mkdtempSync(join(tmpdir(), 'btpcerts-operator-')), 'operator.log');
  const logger = createLogger({
    level: 'debug',
    destination: pino.destination({ dest: logFile, sync: true }),
  });
  const kubeConfig = asOperator(kc, options.operatorToken ?? inject('operatorToken'));
  const operator = new Operator({
    kubeConfig,
    clock: options.clock ?? systemClock,
    logger,
    namespaces: options.namespaces ?? [],
    concurrency: 4,
    resyncMs: options.resyncMs ?? 60_000,
    btpCaPem: options.btpCaPem,
    // The same mechanism as in production: tests talk to loopback only, and a credential naming
    // any other host fails as HostNotAllowed before a DNS lookup or a connection is tried.
    allowedHosts: parseAllowedHosts(options.allowedHosts ?? LOOPBACK_HOSTS),
    defaultSmCredentials: options.defaultSmCredentials,
    ...(options.workloadRestarts ? { workloadRestarts: true } : {}),
    defaultSmCredentialsPolicy: options.defaultSmCredentialsPolicy,
    ...(options.maxBindingsPerCertificate
      ? { maxBindingsPerCertificate: options.maxBindingsPerCertificate }
      : {}),
    ...(options.leaderElection ? { leaderElection: options.leaderElection } : {}),
    ...(options.watchTimeouts ? { watchTimeouts: options.watchTimeouts } : {}),
    ...(options.wrapKube ? { wrapKube: options.wrapKube } : {}),
    tokenCheck: {
      ...(options.tokenCheckTimeoutMs ? { timeoutMs: options.tokenCheckTimeoutMs } : {}),
      ...(options.tokenCheckRate
        ? { rateLimit: { perSecond: options.tokenCheckRate, burst: options.tokenCheckRate } }
        : {}),
    },
  });
  operator.start();
  return { operator, controller: operator.certificates, kubeConfig, logFile, stop: () => operator.stop() };
}
