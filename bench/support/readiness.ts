// When each BTPCertificate of a namespace first showed Ready=True, seen through one watch (the
// benchmark's only request during a measured phase, besides the scrapes). `observe` sees every
// object the watch delivers, e.g. to follow status changes after Ready (the renewal part).
import { type KubeConfig, Watch } from '@kubernetes/client-node';

export type Observed = {
  metadata?: { name?: string };
  status?: {
    conditions?: { type?: string; status?: string }[];
    notBefore?: string;
    notAfter?: string;
    renewalTime?: string;
  };
};

export class ReadinessWatch {
  readonly #readyAt = new Map<string, number>();
  readonly #kc: KubeConfig;
  readonly #path: string;
  readonly #observe: ((obj: Observed) => void) | undefined;
  #request: AbortController | undefined;
  #stopped = false;
  #waiters: (() => void)[] = [];

  constructor(kc: KubeConfig, namespace: string, observe?: (obj: Observed) => void) {
    this.#kc = kc;
    this.#observe = observe;
    this.#path = `/apis/btpcerts.io/v1alpha1/namespaces/${namespace}/btpcertificates`;
  }

  async start(): Promise<void> {
    this.#request = await new Watch(this.#kc).watch(
      this.#path,
      {},
      (_type, obj: Observed) => {
        this.#observe?.(obj);
        const name = obj.metadata?.name;
        const ready = obj.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
        if (name && ready && !this.#readyAt.has(name)) {
          this.#readyAt.set(name, performance.now());
          for (const wake of this.#waiters.splice(0)) wake();
        }
      },
      () => {
        // A watch that ends (server timeout) is started again; a first Ready is kept once seen.
        if (!this.#stopped) void this.start();
      },
    );
  }

  get readyCount(): number {
    return this.#readyAt.size;
  }

  /** performance.now() of each name's first Ready. */
  get readyAt(): ReadonlyMap<string, number> {
    return this.#readyAt;
  }

  /** Resolves once `count` are Ready; rejects after `timeoutMs`. */
  async waitFor(count: number, timeoutMs: number): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    while (this.#readyAt.size < count) {
      const left = deadline - performance.now();
      if (left <= 0) throw new Error(`only ${this.#readyAt.size} of ${count} Ready after ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 1_000));
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  stop(): void {
    this.#stopped = true;
    this.#request?.abort();
  }
}
