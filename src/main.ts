// Composition root: config -> logger -> clients -> clock -> controller; signals.
import { CertificateController } from './certificate/controller.ts';
import { ConfigError, loadConfig } from './config.ts';
import { kubeApi } from './kube/api.ts';
import { loadKubeConfig } from './kube/config.ts';
import { startHealthServer } from './observability/health.ts';
import { createLogger } from './observability/logger.ts';
import { systemClock } from './runtime/clock.ts';

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
  const kubeConfig = loadKubeConfig({ kubeconfigPath: config.kubeconfig });
  const controller = new CertificateController({
    kubeConfig,
    kube: kubeApi(kubeConfig),
    clock: systemClock,
    logger,
    namespaces: config.namespaces,
    concurrency: config.concurrency,
    resyncMs: config.resyncMs,
  });
  const health =
    config.healthPort === 0
      ? undefined
      : await startHealthServer(config.healthPort, () => controller.ready());
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
    health?.close();
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
