// Prometheus metrics: the prom-client boundary (the only module that imports it). One registry per
// Operator, so that several operators in one process (the tests) each count their own. The
// certificate gauges are computed at scrape time (prom-client's `collect`) from the informer
// cache, never from API reads; counters and histograms are fed by the hooks of the work queue, the
// BTP clients and the token checker, with durations measured on the injected clock. Labels are
// bounded: namespace/name on the certificate gauges only, operations and outcomes from closed
// sets. No label carries key material.
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import { parseBTPCertificate } from '../api/parse.ts';
import { RUN_OUTCOMES, type RunOutcome } from '../runtime/queue.ts';

export const METRICS_CONTENT_TYPE = Registry.PROMETHEUS_CONTENT_TYPE;

/** What the operator holds, read at scrape time. */
export type MetricsSources = {
  /** The BTPCertificates in the informer cache, as the API returned them (not mutated). */
  readonly certificates: () => readonly unknown[];
  /** Keys due and waiting for a worker. */
  readonly queueDepth: () => number;
  /** Whether this replica runs the controllers (holds the Lease, or runs without election). */
  readonly leader: () => boolean;
};

const CONDITIONS = ['Ready', 'TokenReady'] as const;
const STATUSES = ['True', 'False', 'Unknown'] as const;

/** HTTP statuses kept as they are in the outcome label; any other becomes its class (`4xx`). */
const KNOWN_STATUSES = new Set([
  200, 201, 202, 204, 400, 401, 403, 404, 409, 410, 422, 429, 500, 502, 503, 504,
]);

/**
 * The outcome label of a BTP request: a known HTTP status, the class of another (a tenant's token
 * URL may answer any status), or the error code (a closed catalogue).
 */
export function outcomeLabel(outcome: string): string {
  if (!/^\d+$/.test(outcome)) return outcome;
  const status = Number(outcome);
  if (KNOWN_STATUSES.has(status)) return outcome;
  return status >= 100 && status <= 599 ? `${Math.floor(status / 100)}xx` : 'other';
}

/** The default process and Node.js metrics: one set per process, shared by every operator in it. */
let processRegistry: Registry | undefined;
function processMetrics(): Registry {
  if (processRegistry === undefined) {
    // Starts a GC observer and an event-loop monitor that are never stopped: once per process.
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry });
  }
  return processRegistry;
}

type CertificateRow = {
  readonly id: { readonly namespace: string; readonly name: string };
  readonly secret: string;
  readonly expiry: number | undefined;
  readonly renewal: number | undefined;
  readonly tokenExpiry: number | undefined;
  readonly conditions: Readonly<Record<(typeof CONDITIONS)[number], string>>;
};

/** Parsed once per object: the informer replaces an object on every change, never mutates it. */
const rows = new WeakMap<object, CertificateRow | null>();

function rowOf(raw: unknown): CertificateRow | undefined {
  if (typeof raw !== 'object' || raw === null) return undefined;
  let row = rows.get(raw);
  if (row === undefined) {
    row = toRow(raw);
    rows.set(raw, row);
  }
  return row ?? undefined;
}

function toRow(raw: unknown): CertificateRow | null {
  const cert = parseBTPCertificate(raw);
  if (cert === undefined) return null;
  const st = cert.status;
  const seconds = (text: string | undefined) => (text === undefined ? undefined : Date.parse(text) / 1000);
  const condition = (type: string) => st?.conditions?.find((c) => c.type === type)?.status ?? 'Unknown';
  return {
    id: { namespace: cert.metadata.namespace, name: cert.metadata.name },
    secret: cert.spec.secretName,
    expiry: seconds(st?.notAfter),
    renewal: seconds(st?.renewalTime),
    tokenExpiry: seconds(st?.token?.expiresAt),
    conditions: { Ready: condition('Ready'), TokenReady: condition('TokenReady') },
  };
}

const SECONDS = (ms: number) => Math.max(0, ms) / 1000;

export class OperatorMetrics {
  readonly #registry: Registry;
  readonly #reconciles: Counter<'outcome'>;
  readonly #reconcileSeconds: Histogram<'outcome'>;
  readonly #queueWaitSeconds: Histogram;
  readonly #btpRequests: Counter<'operation' | 'outcome'>;
  readonly #btpRequestSeconds: Histogram<'operation' | 'outcome'>;
  readonly #tokenCheckSeconds: Histogram<'outcome'>;

  constructor(sources: MetricsSources) {
    const registers = [new Registry()];
    const certificates = () => {
      const out: CertificateRow[] = [];
      for (const raw of sources.certificates()) {
        const row = rowOf(raw);
        if (row !== undefined) out.push(row);
      }
      return out;
    };
    const certificateGauge = <L extends string>(
      name: string,
      help: string,
      labelNames: readonly L[],
      samples: (row: CertificateRow) => [Record<L, string>, number][],
    ) =>
      new Gauge({
        name,
        help,
        labelNames,
        registers,
        collect() {
          this.reset();
          for (const row of certificates())
            for (const [labels, value] of samples(row)) this.set(labels, value);
        },
      });
    const timestamp = (value: number | undefined, labels: Record<string, string>) =>
      value === undefined ? [] : [[labels, value] as [Record<string, string>, number]];

    certificateGauge(
      'btpcert_certificate_expiration_timestamp_seconds',
      'notAfter of the certificate in the Secret, as a Unix time.',
      ['namespace', 'name', 'secret'],
      (r) => timestamp(r.expiry, { ...r.id, secret: r.secret }),
    );
    certificateGauge(
      'btpcert_certificate_renewal_timestamp_seconds',
      'When the certificate is renewed, as a Unix time.',
      ['namespace', 'name'],
      (r) => timestamp(r.renewal, r.id),
    );
    certificateGauge(
      'btpcert_certificate_condition',
      'The status of the Ready and TokenReady conditions: 1 for the current one.',
      ['namespace', 'name', 'condition', 'status'],
      (r) =>
        CONDITIONS.flatMap((condition) =>
          STATUSES.map((status): [Record<string, string>, number] => [
            { ...r.id, condition, status },
            r.conditions[condition] === status ? 1 : 0,
          ]),
        ),
    );
    certificateGauge(
      'btpcert_token_expiration_timestamp_seconds',
      'When the token of the last successful token check expires, as a Unix time.',
      ['namespace', 'name'],
      (r) => timestamp(r.tokenExpiry, r.id),
    );

    this.#reconciles = new Counter({
      name: 'btpcert_reconcile_total',
      help: 'Reconcile runs by outcome.',
      labelNames: ['outcome'],
      registers,
    });
    this.#reconcileSeconds = new Histogram({
      name: 'btpcert_reconcile_duration_seconds',
      help: 'How long one reconcile ran, by outcome (BTP requests included).',
      labelNames: ['outcome'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    });
    for (const outcome of RUN_OUTCOMES) {
      this.#reconciles.inc({ outcome }, 0);
      this.#reconcileSeconds.zero({ outcome });
    }
    new Gauge({
      name: 'btpcert_workqueue_depth',
      help: 'Keys due to reconcile and waiting for a worker.',
      registers,
      collect() {
        this.set(sources.queueDepth());
      },
    });
    this.#queueWaitSeconds = new Histogram({
      name: 'btpcert_workqueue_wait_duration_seconds',
      help: 'How long a key waited for a worker after it was due.',
      buckets: [0.001, 0.01, 0.1, 0.5, 1, 5, 10, 30, 60, 300],
      registers,
    });
    this.#btpRequests = new Counter({
      name: 'btpcert_btp_requests_total',
      help: 'Requests to BTP (Service Manager, XSUAA) by operation and outcome: an HTTP status, or the error code when there was none.',
      labelNames: ['operation', 'outcome'],
      registers,
    });
    this.#btpRequestSeconds = new Histogram({
      name: 'btpcert_btp_request_duration_seconds',
      help: 'How long one request to BTP took, from dispatch to the end of the body, by operation and outcome.',
      labelNames: ['operation', 'outcome'],
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    this.#tokenCheckSeconds = new Histogram({
      name: 'btpcert_token_check_duration_seconds',
      help: 'How long one token check took, retries included, the wait for the rate limit not; by outcome (TokenIssued or the TokenReady reason).',
      labelNames: ['outcome'],
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    new Gauge({
      name: 'btpcert_leader',
      help: 'Whether this replica runs the controllers: 1 while it holds the leader Lease (always, without leader election), else 0.',
      registers,
      collect() {
        this.set(sources.leader() ? 1 : 0);
      },
    });
    this.#registry = Registry.merge([...registers, processMetrics()]);
  }

  /** One reconcile ended: how, how long it ran, how long it waited for a worker. */
  reconciled(run: {
    readonly outcome: RunOutcome;
    readonly durationMs: number;
    readonly waitMs: number;
  }): void {
    this.#reconciles.inc({ outcome: run.outcome });
    this.#reconcileSeconds.observe({ outcome: run.outcome }, SECONDS(run.durationMs));
    this.#queueWaitSeconds.observe(SECONDS(run.waitMs));
  }

  /** One request to BTP ended with `outcome` (an HTTP status or an error code). */
  btpRequest(operation: string, outcome: string, durationMs: number): void {
    const labels = { operation, outcome: outcomeLabel(outcome) };
    this.#btpRequests.inc(labels);
    this.#btpRequestSeconds.observe(labels, SECONDS(durationMs));
  }

  /** One token check ended: TokenIssued or the TokenReady reason. */
  tokenCheck(outcome: string, durationMs: number): void {
    this.#tokenCheckSeconds.observe({ outcome }, SECONDS(durationMs));
  }

  /** The exposition text of one scrape (METRICS_CONTENT_TYPE). */
  text(): Promise<string> {
    return this.#registry.metrics();
  }
}
