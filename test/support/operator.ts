// Runs the operator's controller in the test process against the test control plane, with a real
// clock, the real kube boundary and a logger that writes to a file (shown when a test fails).
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import { pino } from 'pino';
import { CertificateController } from '../../src/certificate/controller.ts';
import { kubeApi } from '../../src/kube/api.ts';
import { createLogger } from '../../src/observability/logger.ts';
import type { Clock } from '../../src/runtime/clock.ts';
import { systemClock } from '../../src/runtime/clock.ts';

export type RunningOperator = {
  readonly controller: CertificateController;
  readonly logFile: string;
  stop(): Promise<void>;
};

export function startOperator(
  kc: KubeConfig,
  options: { namespaces?: readonly string[]; clock?: Clock; resyncMs?: number } = {},
): RunningOperator {
  const logFile = join(mkdtempSync(join(tmpdir(), 'btpcerts-operator-')), 'operator.log');
  const logger = createLogger({
    level: 'debug',
    destination: pino.destination({ dest: logFile, sync: true }),
  });
  const controller = new CertificateController({
    kubeConfig: kc,
    kube: kubeApi(kc),
    clock: options.clock ?? systemClock,
    logger,
    namespaces: options.namespaces ?? [],
    concurrency: 4,
    resyncMs: options.resyncMs ?? 60_000,
  });
  controller.start();
  return { controller, logFile, stop: () => controller.stop() };
}
