// Composition root: config -> logger -> clients -> clock -> controller; signals.
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { ConfigError, loadConfig } from './config.ts';
import { loadKubeConfig } from './kube/config.ts';
import { startServers } from './observability/health.ts';
import { createLogger } from './observability/logger.ts';
import { Operator } from './operator.ts';
import { systemClock } from './runtime/clock.ts';
import { killingFailpoints } from './runtime/failpoints.ts';

async function main(): Promise<void> {
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig(process.argv.slice(2), process.env);
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`${e.message}\n`);
      process.exit(2);
    }
    throw e;
  }
  const logger = createLogger({ level: config.logLevel });
  let kubeConfig: ReturnType<typeof loadKubeConfig>;
  try {
    kubeConfig = loadKubeConfig({ kubeconfigPath: config.kubeconfig });
  } catch (e) {
    process.stderr.write(`kubeconfig: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(2);
  }
  let btpCaPem: string | undefined;
  if (config.btpCaFile !== undefined) {
    try {
      btpCaPem = readFileSync(config.btpCaFile, 'utf8');
    } catch (e) {
      process.stderr.write(
        `--btp-ca-file ${config.btpCaFile}: ${e instanceof Error ? e.message : String(e)}\n`,
      );
      process.exit(2);
    }
  }
  const controller = new Operator({
    kubeConfig,
    clock: systemClock,
    logger,
    namespaces: config.namespaces,
    concurrency: config.concurrency,
    resyncMs: config.resyncMs,
    defaultSmCredentials: config.defaultSmCredentials,
    defaultSmCredentialsPolicy: config.defaultSmCredentialsPolicy,
    maxBindingsPerCertificate: config.maxBindingsPerCertificate,
    btpCaPem,
    workloadRestarts: config.workloadRestarts,
    allowedHosts: config.allowedHosts,
    tokenCheck: {
      rateLimit: { perSecond: config.tokenCheckRate, burst: config.tokenCheckRate },
      timeoutMs: config.tokenCheckTimeoutMs,
    },
    ...(config.leaderElection
      ? {
          leaderElection: {
            ...config.leaderElection,
            identity: `${hostname()}_${randomUUID().slice(0, 8)}`,
            // Another replica may be leading already: exit and come back as a candidate.
            onLost: () => process.exit(1),
          },
        }
      : {}),
    ...(config.failpoint
      ? {
          failpoints: killingFailpoints(config.failpoint, () =>
            logger.warn({ failpoint: config.failpoint?.point }, 'failpoint reached: killing this process'),
          ),
        }
      : {}),
  });
  const closeServers = await startServers(config.healthPort, config.metricsPort, {
    ready: () => controller.ready(),
    metrics: () => controller.metrics(),
  });
  controller.start();
  logger.info(
    {
      server: kubeConfig.getCurrentCluster()?.server,
      namespaces: config.namespaces.length ? config.namespaces : 'all',
    },
    'btp-cert-operator running',
  );

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    closeServers();
    await controller.stop();
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}

main().catch((e: unknown) => {
  process.stderr.write(`btp-cert-operator failed to start: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
