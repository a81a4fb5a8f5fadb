// Records every write the API server reports for the BTPCertificates and the Events of one
// namespace, through watches (the way a write loop shows up for everyone else), so a test can
// count status writes and Event writes per object over a window.
import { CoreV1Api, CustomObjectsApi, type KubeConfig, Watch } from '@kubernetes/client-node';
import type { BTPCertificateStatus } from '../../src/api/types.ts';

export type CertificateWrite = {
  readonly name: string;
  readonly resourceVersion: string;
  readonly status: BTPCertificateStatus | undefined;
  readonly atMs: number;
};

export type EventWrite = {
  readonly involved: string;
  readonly phase: 'ADDED' | 'MODIFIED';
  readonly reason: string;
  readonly count: number;
  readonly atMs: number;
};

type Meta = { name?: string; resourceVersion?: string };

export class WriteRecorder {
  readonly certificates: CertificateWrite[] = [];
  readonly events: EventWrite[] = [];
  /** Times a watch had to start again from the current version: what happened in between is unseen. */
  gaps = 0;
  readonly #watch: Watch;
  readonly #core: CoreV1Api;
  readonly #custom: CustomObjectsApi;
  readonly #namespace: string;
  readonly #aborts = new Set<AbortController>();
  #running = false;

  constructor(kc: KubeConfig, namespace: string) {
    this.#watch = new Watch(kc);
    this.#core = kc.makeApiClient(CoreV1Api);
    this.#custom = kc.makeApiClient(CustomObjectsApi);
    this.#namespace = namespace;
  }

  /** Starts both watches from the collections' current versions; resolves once both are open. */
  async start(): Promise<void> {
    this.#running = true;
    const namespace = this.#namespace;
    const certificatesVersion = async () => {
      const list = (await this.#custom.listNamespacedCustomObject({
        group: 'btpcerts.io',
        version: 'v1alpha1',
        plural: 'btpcertificates',
        namespace,
        limit: 1,
      })) as { metadata?: Meta };
      return list.metadata?.resourceVersion ?? '';
    };
    const eventsVersion = async () =>
      (await this.#core.listNamespacedEvent({ namespace, limit: 1 })).metadata?.resourceVersion ?? '';
    await Promise.all([
      this.#follow(
        `/apis/btpcerts.io/v1alpha1/namespaces/${namespace}/btpcertificates`,
        certificatesVersion,
        (phase, obj) => {
          const meta = (obj as { metadata?: Meta }).metadata ?? {};
          if (phase !== 'MODIFIED') return;
          this.certificates.push({
            name: meta.name ?? '',
            resourceVersion: meta.resourceVersion ?? '',
            status: (obj as { status?: BTPCertificateStatus }).status,
            atMs: Date.now(),
          });
        },
      ),
      this.#follow(`/api/v1/namespaces/${namespace}/events`, eventsVersion, (phase, obj) => {
        if (phase !== 'ADDED' && phase !== 'MODIFIED') return;
        const ev = obj as {
          involvedObject?: { name?: string; kind?: string };
          reason?: string;
          count?: number;
        };
        if (ev.involvedObject?.kind !== 'BTPCertificate') return;
        this.events.push({
          involved: ev.involvedObject.name ?? '',
          phase,
          reason: ev.reason ?? '',
          count: ev.count ?? 1,
          atMs: Date.now(),
        });
      }),
    ]);
  }

  stop(): void {
    this.#running = false;
    for (const a of this.#aborts) a.abort();
  }

  certificateWrites(name: string, sinceMs = 0): CertificateWrite[] {
    return this.certificates.filter((w) => w.name === name && w.atMs >= sinceMs);
  }

  eventWrites(name: string, sinceMs = 0): EventWrite[] {
    return this.events.filter((w) => w.involved === name && w.atMs >= sinceMs);
  }

  /** Watches `path` from now on, resuming from the last version seen whenever a watch ends. */
  async #follow(
    path: string,
    currentVersion: () => Promise<string>,
    onEvent: (phase: string, obj: unknown) => void,
  ): Promise<void> {
    let version: string | undefined = await currentVersion();
    const open = async (): Promise<void> => {
      if (!this.#running) return;
      if (version === undefined) {
        // The watch expired (410): writes in between were missed.
        this.gaps += 1;
        version = await currentVersion();
      }
      let controller: AbortController | undefined;
      controller = await this.#watch.watch(
        path,
        { resourceVersion: version, allowWatchBookmarks: true },
        (phase: string, obj: unknown) => {
          const rv = (obj as { metadata?: Meta }).metadata?.resourceVersion;
          if (phase === 'ERROR') {
            version = undefined;
            return;
          }
          if (rv !== undefined) version = rv;
          if (phase !== 'BOOKMARK') onEvent(phase, obj);
        },
        () => {
          if (controller !== undefined) this.#aborts.delete(controller);
          void open();
        },
      );
      this.#aborts.add(controller);
    };
    await open();
  }
}
