// Where the operator's KubeConfig comes from: an explicit kubeconfig file (development, tests),
// otherwise client-node's default chain (KUBECONFIG, ~/.kube/config, then the in-cluster
// service account).
import { bufferFromFileOrString, KubeConfig } from '@kubernetes/client-node';
import { Agent } from 'undici';

export interface KubeConfigSource {
  /** A kubeconfig file; when absent, the default chain is used. */
  readonly kubeconfigPath?: string | undefined;
}

export function loadKubeConfig(source: KubeConfigSource = {}): KubeConfig {
  const kc = new KubeConfig();
  if (source.kubeconfigPath !== undefined && source.kubeconfigPath !== '') {
    kc.loadFromFile(source.kubeconfigPath);
  } else {
    kc.loadFromDefault();
  }
  const cluster = kc.getCurrentCluster();
  if (cluster === null) {
    throw new Error(
      source.kubeconfigPath
        ? `kubeconfig ${source.kubeconfigPath} has no current cluster`
        : 'no Kubernetes cluster configured',
    );
  }
  refuseUnverifiedTls(kc);
  return kc;
}

/**
 * Throws when the current cluster switches off TLS verification of the API server
 * (insecure-skip-tls-verify). Nothing here ever talks to an API server it has not verified: the
 * operator holds every namespace's keys, and its token sent to an impostor is given away.
 */
export function refuseUnverifiedTls(kc: KubeConfig): void {
  const cluster = kc.getCurrentCluster();
  if (cluster?.skipTLSVerify !== true) return;
  throw new Error(
    `cluster ${cluster.name} in the kubeconfig sets insecure-skip-tls-verify, which is refused: ` +
      "give the API server's CA (certificate-authority or certificate-authority-data) instead",
  );
}

type RequestContext = Parameters<KubeConfig['applySecurityAuthentication']>[0];

/** What the TLS connections to the API server are made with; a change needs new connections. */
type TlsMaterial = {
  readonly server: string;
  readonly ca: Buffer | null;
  readonly cert: Buffer | null;
  readonly key: Buffer | null;
  readonly servername: string | undefined;
};

function sameBuffer(a: Buffer | null, b: Buffer | null): boolean {
  return a === null || b === null ? a === b : a.equals(b);
}

function sameMaterial(a: TlsMaterial, b: TlsMaterial): boolean {
  return (
    a.server === b.server &&
    a.servername === b.servername &&
    sameBuffer(a.ca, b.ca) &&
    sameBuffer(a.cert, b.cert) &&
    sameBuffer(a.key, b.key)
  );
}

/**
 * A KubeConfig whose requests share one keep-alive connection pool per cluster and TLS
 * credential. client-node 2.0.1 builds a new undici Agent for every request (and so a new TLS
 * handshake); see docs/adr/0010-one-kept-alive-connection-pool-to-the-api-server.md.
 *
 * Headers (bearer tokens, a rotated service-account token file) are still applied per request by
 * client-node. The CA, client certificate and key are read per request too (files, as client-node
 * does); when they differ from the pool's, a new pool is made and the old one closed once its
 * requests (a running watch included) have ended.
 */
export class KeptAliveKubeConfig extends KubeConfig {
  #pool: { readonly material: TlsMaterial; readonly agent: Agent } | undefined;
  #closed = false;

  override async applySecurityAuthentication(context: RequestContext): Promise<void> {
    await super.applySecurityAuthentication(context);
    const material = this.#material();
    // A proxy, plain http or an exec plugin's client certificate: client-node's own dispatcher.
    if (material === undefined || this.#closed) return;
    context.setDispatcher(this.#agentFor(material));
  }

  /** Closes the pool once its requests have ended. */
  async close(): Promise<void> {
    this.#closed = true;
    const pool = this.#pool;
    this.#pool = undefined;
    await pool?.agent.close();
  }

  #material(): TlsMaterial | undefined {
    const cluster = this.getCurrentCluster();
    const user = this.getCurrentUser();
    if (cluster === null || !cluster.server.startsWith('https:')) return undefined;
    if (cluster.proxyUrl !== undefined || user?.exec) return undefined;
    return {
      server: cluster.server,
      ca: bufferFromFileOrString(cluster.caFile, cluster.caData),
      cert: bufferFromFileOrString(user?.certFile, user?.certData),
      key: bufferFromFileOrString(user?.keyFile, user?.keyData),
      servername: cluster.tlsServerName,
    };
  }

  #agentFor(material: TlsMaterial): Agent {
    const pool = this.#pool;
    if (pool !== undefined && sameMaterial(pool.material, material)) return pool.agent;
    if (pool !== undefined) void pool.agent.close().catch(() => {});
    const agent = new Agent({
      connect: {
        ...(material.ca ? { ca: material.ca } : {}),
        ...(material.cert ? { cert: material.cert } : {}),
        ...(material.key ? { key: material.key } : {}),
        ...(material.servername ? { servername: material.servername } : {}),
        keepAlive: true,
        keepAliveInitialDelay: 30_000,
      },
      // The API server speaks HTTP/2 (ALPN): a connection carries up to 100 streams, and a
      // watch holds its stream for as long as it runs; when one is full the pool opens another.
      // Over HTTP/1.1 (a server or proxy without h2), one request per connection at a time.
      // No cap on connections, so watches never hold up requests: the work queue's concurrency
      // bounds the requests.
      pipelining: 1,
      connections: null,
      // Idle connections are kept well under the API server's idle timeout (90 s).
      keepAliveTimeout: 30_000,
      keepAliveMaxTimeout: 60_000,
    });
    this.#pool = { material, agent };
    return agent;
  }
}

/**
 * A copy of `kc` whose requests share kept-alive connections; close it when done. Each operator
 * makes its own, so its connections end with it.
 */
export function keptAlive(kc: KubeConfig): KeptAliveKubeConfig {
  refuseUnverifiedTls(kc);
  const copy = new KeptAliveKubeConfig();
  copy.loadFromOptions({
    clusters: kc.getClusters(),
    users: kc.getUsers(),
    contexts: kc.getContexts(),
    currentContext: kc.getCurrentContext(),
  });
  return copy;
}
