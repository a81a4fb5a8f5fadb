// /metrics on a port of its own (--metrics-port), so that it can be protected (a NetworkPolicy,
// a kube-rbac-proxy) without exposing the probes: the operator as a process of its own, with
// --health-port and --metrics-port, serves /metrics only on the metrics port and /healthz,
// /readyz only on the health port.
import { afterAll, describe, expect, inject, it } from 'vitest';
import { freePort } from '../support/control-plane/ports.ts';
import { kubeConfigFromFile, testNamespace, waitFor } from '../support/kube.ts';
import { type OperatorProcess, spawnOperator } from '../support/operator-process.ts';

const kubeconfig = inject('kubeconfig');
const ns = testNamespace(kubeConfigFromFile(kubeconfig), 'metrics-port');
const processes: OperatorProcess[] = [];
afterAll(async () => {
  await Promise.all(processes.map((p) => p.stop()));
});

async function status(port: number, path: string): Promise<{ code: number; body: string } | undefined> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}${path}`);
    return { code: res.status, body: await res.text() };
  } catch {
    return undefined; // not listening (yet)
  }
}

describe('--metrics-port', () => {
  it('serves /metrics on its own port and not on the health port', async () => {
    const healthPort = await freePort();
    const metricsPort = await freePort();
    const operator = spawnOperator({
      kubeconfig,
      namespaces: [ns],
      healthPort,
      extraArgs: ['--metrics-port', String(metricsPort)],
    });
    processes.push(operator);
    const exited = operator.exited.then((how) => {
      throw new Error(`the operator exited (${String(how)}); log: ${operator.logFile}`);
    });
    exited.catch(() => {}); // it exits at the end, when afterAll stops it

    await Promise.race([
      exited,
      waitFor(async () => (await status(healthPort, '/readyz'))?.code === 200, {
        description: '/readyz on the health port',
        timeoutMs: 60_000,
      }),
    ]);
    const metrics = await status(metricsPort, '/metrics');
    expect(metrics?.code).toBe(200);
    expect(metrics?.body).toContain('btpcert_reconcile_total');
    expect((await status(healthPort, '/metrics'))?.code).toBe(404);
    expect((await status(healthPort, '/healthz'))?.code).toBe(200);
    expect((await status(metricsPort, '/healthz'))?.code).toBe(404);
    expect((await status(metricsPort, '/readyz'))?.code).toBe(404);
  });
});
