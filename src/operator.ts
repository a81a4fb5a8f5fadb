// The operator's parts put together: the BTPCertificate controller, workload restarts and the
// Service Manager and Destination service clients. main.ts and the integration tests build it the same way.
import type { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { AllowedHosts } from './btp/allowed-hosts.ts';
import { destinationClients, serviceManagerClients } from './btp/port.ts';
import type { RateLimit } from './btp/rate-limit.ts';
import { CertificateController } from './certificate/controller.ts';
import type { DefaultCredentialsPolicy } from './certificate/default-credentials-policy.ts';
import { type KubeApi, kubeApi } from './kube/api.ts';
import { type KeptAliveKubeConfig, keptAlive } from './kube/config.ts';
import { LeaderElector, type LeaseTiming } from './kube/leader-election.ts';
import type { WatchTimeouts } from './kube/watch.ts';
import { OperatorMetrics } from './observability/metrics.ts';
import type { Clock } from './runtime/clock.ts';
import type { Failpoints } from './runtime/failpoints.ts';
import { TokenChecker } from './token/checker.ts';
import { WorkloadController } from './workloads/controller.ts';

export type OperatorOptions = {
  readonly kubeConfig: KubeConfig;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly namespaces: readonly string[];
  readonly concurrency: number;
  readonly resyncMs: number;
  readonly defaultSmCredentials?: { readonly namespace: string; readonly name: string } | undefined;
  /** Who may use the default credentials, for which instances (--default-sm-credentials-policy);
   * undefined: nobody. */
  readonly defaultSmCredentialsPolicy?: DefaultCredentialsPolicy | undefined;
  /** Live bindings a serviceManager BTPCertificate may have before it creates another (default 3). */
  readonly maxBindingsPerCertificate?: number;
  /** The only hosts and ports any BTP request may go to (--allowed-hosts). */
  readonly allowedHosts: AllowedHosts;
  /** Extra CA certificates (PEM) to trust for BTP endpoints, besides the system ones. */
  readonly btpCaPem?: string | undefined;
  /** The token check: requests per second across all checks, and the budget of one check. */
  readonly tokenCheck?: {
    readonly rateLimit?: RateLimit;
    readonly timeoutMs?: number;
  };
  readonly failpoints?: Failpoints;
  /** Restart workloads that opt in when their Secrets rotate (--workload-restarts); absent: off. */
  readonly workloadRestarts?: boolean;
  /** Tests only: wraps the kube boundary of the certificate controller (e.g. to interleave a write). */
  readonly wrapKube?: (kube: KubeApi) => KubeApi;
  /** Of the certificate controller's informers and watches; absent: src/kube/watch.ts's defaults. */
  readonly watchTimeouts?: WatchTimeouts;
  /** Run only while holding this Lease (several replicas); absent: always run. */
  readonly leaderElection?: {
    readonly namespace: string;
    readonly name: string;
    readonly identity: string;
    readonly timing?: LeaseTiming;
    /** Leadership was lost: the controllers are stopping; the process should exit and restart. */
    readonly onLost: () => void;
  };
};

export class Operator {
  readonly certificates: CertificateController;
  /** Only with workloadRestarts: without it no workload is listed, watched or patched. */
  readonly workloads: WorkloadController | undefined;
  readonly tokens: TokenChecker;
  readonly #closeClients: () => Promise<void>;
  readonly #metrics: OperatorMetrics;
  readonly #elector: LeaderElector | undefined;
  readonly #kubeConfig: KeptAliveKubeConfig;
  #running = false;

  constructor(o: OperatorOptions) {
    // One kept-alive connection pool for every request and watch of this operator (ADR 0010).
    const kubeConfig = keptAlive(o.kubeConfig);
    this.#kubeConfig = kubeConfig;
    const metrics = new OperatorMetrics({
      certificates: () => this.certificates.cachedCertificates(),
      queueDepth: () => this.certificates.queue.waiting,
      leader: () => this.leading,
    });
    this.#metrics = metrics;
    const btp = {
      clock: o.clock,
      logger: o.logger,
      extraCaPem: o.btpCaPem,
      allowedHosts: o.allowedHosts,
      onRequest: (operation: string, outcome: string, ms: number) =>
        metrics.btpRequest(operation, outcome, ms),
    };
    const clients = serviceManagerClients(btp);
    const destinations = destinationClients(btp);
    this.#closeClients = async () => {
      await Promise.all([clients.close(), destinations.close()]);
    };
    const t = o.tokenCheck ?? {};
    this.tokens = new TokenChecker({
      clock: o.clock,
      caPem: o.btpCaPem,
      allowedHosts: o.allowedHosts,
      // The SM clients' token requests are `xsuaa.token` too; the checks' are labelled apart.
      onRequest: (operation, outcome, ms) => metrics.btpRequest(`check.${operation}`, outcome, ms),
      onCheck: (outcome, ms) => metrics.tokenCheck(outcome, ms),
      ...(t.rateLimit ? { rateLimit: t.rateLimit } : {}),
      ...(t.timeoutMs ? { timeoutMs: t.timeoutMs } : {}),
    });
    this.certificates = new CertificateController({
      kubeConfig,
      kube: (o.wrapKube ?? ((k) => k))(kubeApi(kubeConfig)),
      clock: o.clock,
      logger: o.logger,
      namespaces: o.namespaces,
      concurrency: o.concurrency,
      resyncMs: o.resyncMs,
      onResult: (run) => metrics.reconciled(run),
      serviceManager: clients.factory,
      releaseServiceManager: clients.release,
      destination: destinations.factory,
      releaseDestination: destinations.release,
      defaultSmCredentials: o.defaultSmCredentials,
      defaultSmCredentialsPolicy: o.defaultSmCredentialsPolicy,
      ...(o.maxBindingsPerCertificate === undefined
        ? {}
        : { maxBindingsPerCertificate: o.maxBindingsPerCertificate }),
      tokens: this.tokens,
      ...(o.failpoints ? { failpoints: o.failpoints } : {}),
      ...(o.watchTimeouts ? { watchTimeouts: o.watchTimeouts } : {}),
    });
    const le = o.leaderElection;
    this.#elector =
      le === undefined
        ? undefined
        : new LeaderElector({
            kubeConfig,
            clock: o.clock,
            logger: o.logger,
            namespace: le.namespace,
            name: le.name,
            identity: le.identity,
            ...(le.timing ? { timing: le.timing } : {}),
            onStartedLeading: () => this.#startControllers(),
            onStoppedLeading: () => {
              void this.#stopControllers().finally(le.onLost);
            },
          });
    this.workloads = o.workloadRestarts
      ? new WorkloadController({
          kubeConfig,
          clock: o.clock,
          logger: o.logger,
          namespaces: o.namespaces,
          managedSecret: (ns, name) => this.certificates.managedSecret(ns, name),
          onManagedSecretChange: (listener) => this.certificates.onManagedSecretChange(listener),
        })
      : undefined;
  }

  #startControllers(): void {
    if (this.#running) return;
    this.#running = true;
    this.certificates.start();
    this.workloads?.start();
  }

  async #stopControllers(): Promise<void> {
    if (!this.#running) return;
    this.#running = false;
    await this.workloads?.stop();
    await this.certificates.stop();
  }

  /** Prometheus text for /metrics (METRICS_CONTENT_TYPE). */
  metrics(): Promise<string> {
    return this.#metrics.text();
  }

  /** Leading (or without leader election): the informers have their first lists. A standby is ready. */
  ready(): boolean {
    if (this.#elector !== undefined && !this.#elector.leading) return true;
    return this.certificates.ready();
  }

  /** Whether this replica runs the controllers (always, without leader election). */
  get leading(): boolean {
    return this.#elector?.leading ?? this.#running;
  }

  start(): void {
    if (this.#elector === undefined) this.#startControllers();
    else this.#elector.start();
  }

  async stop(): Promise<void> {
    await this.#stopControllers();
    // After the controllers: the next leader must not start while this one still writes.
    await this.#elector?.stop();
    await this.#closeClients();
    await this.tokens.close();
    await this.#kubeConfig.close();
  }
}
