// The only reader of flags and environment: validated once into a frozen Config.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import {
  type AllowedHosts,
  AllowedHostsError,
  DEFAULT_ALLOWED_HOSTS,
  parseAllowedHosts,
} from './btp/allowed-hosts.ts';
import { DEFAULT_MAX_BINDINGS, MAX_BINDINGS_RANGE } from './certificate/bindings.ts';
import {
  type DefaultCredentialsPolicy,
  parseDefaultCredentialsPolicy,
} from './certificate/default-credentials-policy.ts';
import { type Failpoint, parseFailpoint } from './runtime/failpoints.ts';
import { DEFAULT_CONCURRENCY } from './runtime/queue.ts';

export type Config = Readonly<{
  kubeconfig: string | undefined;
  /** Namespaces to watch; empty means all. */
  namespaces: readonly string[];
  logLevel: string;
  concurrency: number;
  resyncMs: number;
  healthPort: number;
  /** /metrics on a port of its own; undefined (or the health port): next to the probes; 0: off. */
  metricsPort: number | undefined;
  /** namespace/name of a Secret with Service Manager access that serviceManager sources without
   * credentialsSecretRef may use; undefined: not allowed. */
  defaultSmCredentials: { namespace: string; name: string } | undefined;
  /** Which namespaces may use defaultSmCredentials, for which instances; undefined: none may. */
  defaultSmCredentialsPolicy: DefaultCredentialsPolicy | undefined;
  /** Live bindings (current, retired, left over) a BTPCertificate may have before it creates one. */
  maxBindingsPerCertificate: number;
  /** The only hosts (and ports) BTP requests may go to; every URL comes from a tenant. */
  allowedHosts: AllowedHosts;
  /** PEM file with extra CAs to trust for BTP endpoints (private landscapes, the simulator). */
  btpCaFile: string | undefined;
  /** Token checks per second, across all BTPCertificates (bursts of the same number). */
  tokenCheckRate: number;
  /** The budget of one token check, retries included. */
  tokenCheckTimeoutMs: number;
  /** Run only while holding a Lease in this namespace; undefined: no leader election. */
  leaderElection: { namespace: string; name: string } | undefined;
  /** Restart workloads that opt in when their Secrets rotate; off: no workload is listed or patched. */
  workloadRestarts: boolean;
  /** Test-only: where the process kills itself (src/runtime/failpoints.ts). */
  failpoint: { point: Failpoint; nth: number } | undefined;
}>;

export class ConfigError extends Error {
  override name = 'ConfigError';
}

const USAGE = `btp-cert-operator [flags]
  --kubeconfig PATH        kubeconfig file (default: in-cluster, then $KUBECONFIG)   env KUBECONFIG
  --namespaces a,b         namespaces to watch (default: all)                        env WATCH_NAMESPACES
  --log-level LEVEL        trace|debug|info|warn|error (default: info)               env LOG_LEVEL
  --concurrency N          reconciles in parallel (default: 16)                       env CONCURRENCY
  --resync DURATION_S      seconds between full resyncs (default: 600)               env RESYNC_SECONDS
  --health-port PORT       /healthz and /readyz (default: 8081; 0 disables)           env HEALTH_PORT
  --metrics-port PORT      /metrics on a port of its own, not on the health port
                           (default: on the health port; 0 disables)                env METRICS_PORT
  --default-sm-credentials NS/NAME
                           Secret with Service Manager access for serviceManager sources that
                           name none (default: none, each must name its own)       env DEFAULT_SM_CREDENTIALS
  --default-sm-credentials-policy PATH
                           JSON file: which namespaces may use the default credentials, for
                           which instances (default: none may)              env DEFAULT_SM_CREDENTIALS_POLICY
  --max-bindings-per-certificate N
                           live bindings (current + retired) a BTPCertificate may have before
                           it creates another, 2-20 (default: 3)       env MAX_BINDINGS_PER_CERTIFICATE
  --allowed-hosts PATTERNS the only hosts BTP requests may go to, comma-separated  env ALLOWED_HOSTS
                           (default: the public BTP endpoints, see README); * is one DNS label,
                           a leading ** one or more; :PORT or :* (no port: 443 only); IP
                           addresses only as literals (127.0.0.1, [::1]); empty: none
  --btp-ca-file PATH       extra CA certificates (PEM) to trust for BTP endpoints    env BTP_CA_FILE
  --token-check-rate N     token requests per second, all certificates (default: 10) env TOKEN_CHECK_RATE
  --token-check-timeout S  seconds one token check may take (default: 30)            env TOKEN_CHECK_TIMEOUT_SECONDS
  --leader-elect           run only while holding a Lease (for more than one replica) env LEADER_ELECT=true
  --leader-election-namespace NS
                           namespace of the Lease (default: $POD_NAMESPACE)
  --leader-election-id NAME
                           name of the Lease (default: btp-cert-operator)
  --workload-restarts      restart workloads labelled btpcerts.io/restart-on-rotation=true when
                           the Secrets they name rotate (default: off; needs the RBAC of
                           deploy/components/workload-restarts)              env WORKLOAD_RESTARTS=true`;

export function loadConfig(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
  readFile: (path: string) => string = (path) => readFileSync(path, 'utf8'),
): Config {
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({
      args: [...argv],
      options: {
        kubeconfig: { type: 'string' },
        namespaces: { type: 'string' },
        'log-level': { type: 'string' },
        concurrency: { type: 'string' },
        resync: { type: 'string' },
        'health-port': { type: 'string' },
        'metrics-port': { type: 'string' },
        'default-sm-credentials': { type: 'string' },
        'default-sm-credentials-policy': { type: 'string' },
        'max-bindings-per-certificate': { type: 'string' },
        'allowed-hosts': { type: 'string' },
        'btp-ca-file': { type: 'string' },
        'token-check-rate': { type: 'string' },
        'token-check-timeout': { type: 'string' },
        'leader-elect': { type: 'boolean' },
        'leader-election-namespace': { type: 'string' },
        'leader-election-id': { type: 'string' },
        'workload-restarts': { type: 'boolean' },
        help: { type: 'boolean' },
      },
      strict: true,
    }).values;
  } catch (e) {
    throw new ConfigError(`${e instanceof Error ? e.message : String(e)}\n${USAGE}`);
  }
  if (values.help) throw new ConfigError(USAGE);
  const pick = (flag: string, envName: string) => {
    const v = values[flag];
    return typeof v === 'string' ? v : env[envName];
  };
  const level = pick('log-level', 'LOG_LEVEL') ?? 'info';
  if (!['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'].includes(level)) {
    throw new ConfigError(`--log-level must be one of trace, debug, info, warn, error; got ${level}`);
  }
  const defaultSmCredentials = namespacedName(pick('default-sm-credentials', 'DEFAULT_SM_CREDENTIALS'));
  return Object.freeze({
    kubeconfig: pick('kubeconfig', 'KUBECONFIG'),
    namespaces: (pick('namespaces', 'WATCH_NAMESPACES') ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== ''),
    logLevel: level,
    concurrency: int(
      pick('concurrency', 'CONCURRENCY') ?? String(DEFAULT_CONCURRENCY),
      '--concurrency',
      1,
      64,
    ),
    resyncMs: int(pick('resync', 'RESYNC_SECONDS') ?? '600', '--resync', 10, 86_400) * 1000,
    healthPort: int(pick('health-port', 'HEALTH_PORT') ?? '8081', '--health-port', 0, 65_535),
    metricsPort: optionalPort(pick('metrics-port', 'METRICS_PORT'), '--metrics-port'),
    defaultSmCredentials,
    defaultSmCredentialsPolicy: defaultCredentialsPolicy(
      pick('default-sm-credentials-policy', 'DEFAULT_SM_CREDENTIALS_POLICY'),
      defaultSmCredentials !== undefined,
      readFile,
    ),
    maxBindingsPerCertificate: int(
      pick('max-bindings-per-certificate', 'MAX_BINDINGS_PER_CERTIFICATE') ?? String(DEFAULT_MAX_BINDINGS),
      '--max-bindings-per-certificate',
      MAX_BINDINGS_RANGE.min,
      MAX_BINDINGS_RANGE.max,
    ),
    allowedHosts: allowedHosts(pick('allowed-hosts', 'ALLOWED_HOSTS')),
    btpCaFile: pick('btp-ca-file', 'BTP_CA_FILE') || undefined,
    // XSUAA allows 60 requests/s per subaccount on each token endpoint (btp.md); with the burst of
    // 10 (token/checker.ts) at most rate + 10 go out in any second; 30 drew no 429 in
    // bench/token-checks.ts, 40 drew a few.
    tokenCheckRate: int(pick('token-check-rate', 'TOKEN_CHECK_RATE') ?? '10', '--token-check-rate', 1, 30),
    tokenCheckTimeoutMs:
      int(
        pick('token-check-timeout', 'TOKEN_CHECK_TIMEOUT_SECONDS') ?? '30',
        '--token-check-timeout',
        1,
        300,
      ) * 1000,
    leaderElection: leaderElection(
      values['leader-elect'] === true || env.LEADER_ELECT === 'true',
      pick('leader-election-namespace', 'POD_NAMESPACE'),
      pick('leader-election-id', 'LEADER_ELECTION_ID') ?? 'btp-cert-operator',
    ),
    workloadRestarts: values['workload-restarts'] === true || env.WORKLOAD_RESTARTS === 'true',
    failpoint: failpoint(env.BTPCERTS_FAILPOINT),
  });
}

function leaderElection(on: boolean, namespace: string | undefined, name: string) {
  if (!on) return undefined;
  const dns = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
  if (namespace === undefined || !dns.test(namespace)) {
    throw new ConfigError(
      `--leader-elect needs --leader-election-namespace or $POD_NAMESPACE (a namespace name); got ${namespace ?? 'none'}`,
    );
  }
  if (!/^[a-z0-9]([-.a-z0-9]*[a-z0-9])?$/.test(name)) {
    throw new ConfigError(`--leader-election-id must be a Lease name; got ${name}`);
  }
  return { namespace, name };
}

function defaultCredentialsPolicy(
  path: string | undefined,
  withDefaultCredentials: boolean,
  readFile: (path: string) => string,
): DefaultCredentialsPolicy | undefined {
  if (path === undefined || path === '') return undefined;
  if (!withDefaultCredentials) {
    throw new ConfigError('--default-sm-credentials-policy needs --default-sm-credentials');
  }
  let text: string;
  try {
    text = readFile(path);
  } catch (e) {
    const code = (e as { code?: unknown }).code;
    throw new ConfigError(
      `--default-sm-credentials-policy ${path} cannot be read (${String(code ?? 'error')})`,
    );
  }
  const parsed = parseDefaultCredentialsPolicy(text);
  if (!parsed.ok) throw new ConfigError(`--default-sm-credentials-policy ${path} ${parsed.error}`);
  return parsed.policy;
}

function allowedHosts(text: string | undefined): AllowedHosts {
  try {
    return text === undefined ? parseAllowedHosts(DEFAULT_ALLOWED_HOSTS.join(',')) : parseAllowedHosts(text);
  } catch (e) {
    if (e instanceof AllowedHostsError) throw new ConfigError(e.message);
    throw e;
  }
}

function failpoint(text: string | undefined) {
  if (text === undefined || text === '') return undefined;
  const parsed = parseFailpoint(text);
  if (parsed === undefined) throw new ConfigError(`BTPCERTS_FAILPOINT ${text} names no failpoint`);
  return parsed;
}

function namespacedName(text: string | undefined): { namespace: string; name: string } | undefined {
  if (text === undefined || text === '') return undefined;
  const m = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?)\/([a-z0-9]([-.a-z0-9]*[a-z0-9])?)$/.exec(text);
  if (m === null || m[1] === undefined || m[3] === undefined) {
    throw new ConfigError(`--default-sm-credentials must be namespace/name; got ${text}`);
  }
  return { namespace: m[1], name: m[3] };
}

function optionalPort(text: string | undefined, flag: string): number | undefined {
  return text === undefined || text === '' ? undefined : int(text, flag, 0, 65_535);
}

function int(text: string, flag: string, min: number, max: number): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new ConfigError(`${flag} must be a whole number from ${min} to ${max}; got ${text}`);
  }
  return n;
}
