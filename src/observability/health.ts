// /healthz (the process serves) and /readyz (the informers have their first lists) for the
// kubelet's probes, and /metrics for Prometheus, on loopback or the pod network.
import { createServer, type Server } from 'node:http';

export function startHealthServer(
  port: number,
  ready: () => boolean,
  metrics: () => string = () => '',
): Promise<Server> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0];
    if (path === '/healthz') return void res.writeHead(200).end('ok\n');
    if (path === '/metrics') {
      return void res
        .writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' })
        .end(metrics());
    }
    if (path === '/readyz') {
      const ok = ready();
      return void res.writeHead(ok ? 200 : 503).end(ok ? 'ok\n' : 'informers not synced\n');
    }
    res.writeHead(404).end();
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, () => resolve(server));
  });
}
