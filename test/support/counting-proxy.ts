// A loopback TCP proxy in front of the API server that counts the connections made through it:
// TLS passes through untouched (the serving certificate names 127.0.0.1, whatever the port), so
// each accepted connection is one TLS handshake of the client.
import { connect, createServer, type Socket } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';

export type CountingProxy = {
  /** Connections accepted so far. */
  readonly connections: () => number;
  /** `kc` with its current cluster's server pointed at this proxy. */
  readonly through: (kc: KubeConfig) => KubeConfig;
  close(): Promise<void>;
};

export async function countingProxy(target: string): Promise<CountingProxy> {
  const { hostname, port } = new URL(target);
  const sockets = new Set<Socket>();
  let accepted = 0;
  const server = createServer((client) => {
    accepted += 1;
    const upstream = connect({ host: hostname, port: Number(port) });
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('proxy has no port');
  const server_ = `https://127.0.0.1:${address.port}`;
  return {
    connections: () => accepted,
    through(kc) {
      const current = kc.getCurrentCluster();
      const copy = new KubeConfig();
      copy.loadFromOptions({
        clusters: kc.getClusters().map((c) => (c.name === current?.name ? { ...c, server: server_ } : c)),
        users: kc.getUsers(),
        contexts: kc.getContexts(),
        currentContext: kc.getCurrentContext(),
      });
      return copy;
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
