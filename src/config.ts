// The only reader of flags and environment: validated once into a frozen Config.
import { parseArgs } from 'node:util';

export type Config = Readonly<{
  kubeconfig: string | undefined;
  /** Namespaces to watch; empty means all. */
  namespaces: readonly string[];
  logLevel: string;
  concurrency: number;
  resyncMs: number;
  healthPort: number;
}>;

export class ConfigError extends Error {
  override name = 'ConfigError';
}

const USAGE = `btp-cert-operator [flags]
  --kubeconfig PATH        kubeconfig file (default: in-cluster, then $KUBECONFIG)   env KUBECONFIG
  --namespaces a,b         namespaces to watch (default: all)                        env WATCH_NAMESPACES
  --log-level LEVEL        trace|debug|info|warn|error (default: info)               env LOG_LEVEL
  --concurrency N          reconciles in parallel (default: 4)                        env CONCURRENCY
  --resync DURATION_S      seconds between full resyncs (default: 600)               env RESYNC_SECONDS
  --health-port PORT       /healthz and /readyz (default: 8081; 0 disables)           env HEALTH_PORT`;

export function loadConfig(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
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
  return Object.freeze({
    kubeconfig: pick('kubeconfig', 'KUBECONFIG'),
    namespaces: (pick('namespaces', 'WATCH_NAMESPACES') ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== ''),
    logLevel: level,
    concurrency: int(pick('concurrency', 'CONCURRENCY') ?? '4', '--concurrency', 1, 64),
    resyncMs: int(pick('resync', 'RESYNC_SECONDS') ?? '600', '--resync', 10, 86_400) * 1000,
    healthPort: int(pick('health-port', 'HEALTH_PORT') ?? '8081', '--health-port', 0, 65_535),
  });
}

function int(text: string, flag: string, min: number, max: number): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new ConfigError(`${flag} must be a whole number from ${min} to ${max}; got ${text}`);
  }
  return n;
}
