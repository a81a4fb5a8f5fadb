// /healthz (the process serves) and /readyz (the informers have their first lists) for the
// kubelet's probes, and /metrics for Prometheus, on loopback or the pod network. /metrics may have
// a port of its own (--metrics-port), so that it can be protected without exposing the probes.
import { createServer, type Server } from 'node:http';
import { METRICS_CONTENT_TYPE } from './metrics.ts';

export type Endpoints = {
  readonly ready?: () => boolean;
  readonly metrics?: () => Promise<string>;
};

/** Serves the endpoints given (the others answer 404) on `port` (0: any free port). */
export function startHttpServer(port: number, endpoints: Endpoints): Promise<Server> {
  const { ready, metrics } = endpoints;
  const server = createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0];
    if (ready !== undefined && path === '/healthz') return void res.writeHead(200).end('ok\n');
    if (ready !== undefined && path === '/readyz') {
      const ok = ready();
      return void res.writeHead(ok ? 200 : 503).end(ok ? 'ok\n' : 'informers not synced\n');
    }
    if (metrics !== undefined && path === '/metrics') {
      return void metrics().then(
        (text) => res.writeHead(200, { 'content-type': METRICS_CONTENT_TYPE }).end(text),
        () => res.writeHead(500).end('metrics not collected\n'),
      );
    }
    res.writeHead(404).end();
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, () => resolve(server));
  });
}

/**
 * Which server serves what: the health port the probes (0: none); the metrics port /metrics
 * (undefined or the health port: next to the probes; 0: nowhere).
 */
export function serverPlan(
  healthPort: number,
  metricsPort: number | undefined,
): readonly { readonly port: number; readonly health: boolean; readonly metrics: boolean }[] {
  const together = metricsPort === undefined || metricsPort === healthPort;
  const plan = [];
  if (healthPort !== 0) plan.push({ port: healthPort, health: true, metrics: together });
  if (!together && metricsPort !== 0) plan.push({ port: metricsPort, health: false, metrics: true });
  return plan;
}

/** Starts the servers of serverPlan; resolves with a function that closes them all. */
export async function startServers(
  healthPort: number,
  metricsPort: number | undefined,
  endpoints: Required<Endpoints>,
): Promise<() => void> {
  const servers = await Promise.all(
    serverPlan(healthPort, metricsPort).map((s) =>
      startHttpServer(s.port, {
        ...(s.health ? { ready: endpoints.ready } : {}),
        ...(s.metrics ? { metrics: endpoints.metrics } : {}),
      }),
    ),
  );
  return () => {
    for (const s of servers) s.close();
  };
}
