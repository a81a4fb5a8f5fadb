// API requests counted by the API server itself: apiserver_request_total from its /metrics, by
// verb and resource. Deltas between two scrapes are what every client did in between; the
// benchmark keeps its own requests out of the measured phases (a watch, these scrapes).
import type { KubeConfig } from '@kubernetes/client-node';
import { Agent, request } from 'undici';

/** Requests by "VERB resource[/subresource]". */
export type RequestCounts = ReadonlyMap<string, number>;

const WRITE_VERBS = new Set(['POST', 'PUT', 'PATCH', 'APPLY', 'DELETE', 'DELETECOLLECTION']);
const READ_VERBS = new Set(['GET', 'LIST']);

export class ApiServerMetrics {
  readonly #url: string;
  readonly #agent: Agent;

  constructor(kc: KubeConfig) {
    const cluster = kc.getCurrentCluster();
    const user = kc.getCurrentUser();
    if (!cluster?.caData || !user?.certData || !user.keyData)
      throw new Error('the kubeconfig needs embedded CA, client certificate and key');
    const data = (b64: string) => Buffer.from(b64, 'base64');
    this.#url = `${cluster.server}/metrics`;
    this.#agent = new Agent({
      connect: { ca: data(cluster.caData), cert: data(user.certData), key: data(user.keyData) },
    });
  }

  async scrape(): Promise<RequestCounts> {
    const response = await request(this.#url, { dispatcher: this.#agent });
    const text = await response.body.text();
    if (response.statusCode !== 200) throw new Error(`apiserver /metrics: ${response.statusCode}`);
    const counts = new Map<string, number>();
    for (const line of text.split('\n')) {
      if (!line.startsWith('apiserver_request_total{')) continue;
      const labels = Object.fromEntries(
        [...line.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1] ?? '', m[2] ?? '']),
      );
      // Non-resource URLs (/metrics, /healthz, discovery) are not the operator's work.
      if (!labels.resource) continue;
      const key = `${labels.verb} ${labels.resource}${labels.subresource ? `/${labels.subresource}` : ''}`;
      counts.set(key, (counts.get(key) ?? 0) + Number(line.slice(line.lastIndexOf(' ') + 1)));
    }
    return counts;
  }

  close(): Promise<void> {
    return this.#agent.close();
  }
}

export function requestDelta(after: RequestCounts, before: RequestCounts): RequestCounts {
  const delta = new Map<string, number>();
  for (const [key, n] of after) {
    const d = n - (before.get(key) ?? 0);
    if (d > 0) delta.set(key, d);
  }
  return new Map([...delta].sort(([a], [b]) => a.localeCompare(b)));
}

export type RequestSummary = {
  readonly writes: number;
  /** Without Lease renewals: the operator runs without --leader-elect, the controller-manager's remain. */
  readonly writesExceptLeases: number;
  readonly reads: number;
  readonly watches: number;
  readonly byVerbAndResource: Readonly<Record<string, number>>;
};

export function summarize(delta: RequestCounts): RequestSummary {
  let writes = 0;
  let leaseWrites = 0;
  let reads = 0;
  let watches = 0;
  for (const [key, n] of delta) {
    const verb = key.slice(0, key.indexOf(' '));
    if (WRITE_VERBS.has(verb)) {
      writes += n;
      if (key.endsWith(' leases')) leaseWrites += n;
    } else if (READ_VERBS.has(verb)) reads += n;
    else if (verb === 'WATCH') watches += n;
  }
  return {
    writes,
    writesExceptLeases: writes - leaseWrites,
    reads,
    watches,
    byVerbAndResource: Object.fromEntries(delta),
  };
}
