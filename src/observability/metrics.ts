// Prometheus metrics in the text exposition format (0.0.4), computed at scrape time from what the
// operator already holds: the cached BTPCertificates' status, the work queue's run counts and the
// BTP clients' request counts. No label carries key material; names and values are escaped.
import { parseBTPCertificate } from '../api/parse.ts';

export type MetricsSource = {
  /** The BTPCertificates in the informer cache, as the API returned them. */
  readonly certificates: () => readonly unknown[];
  /** Reconcile runs by outcome. */
  readonly reconciles: () => Readonly<Record<string, number>>;
  /** BTP requests by operation and outcome (an HTTP status or a BtpError code). */
  readonly btpRequests: () => Readonly<Record<string, Readonly<Record<string, number>>>>;
};

const CONDITIONS = ['Ready', 'TokenReady'] as const;
const STATUSES = ['True', 'False', 'Unknown'] as const;

type Labels = Readonly<Record<string, string>>;

/** The exposition text for one scrape. */
export function renderMetrics(source: MetricsSource): string {
  const out: string[] = [];
  const family = (name: string, type: 'gauge' | 'counter', help: string, samples: [Labels, number][]) => {
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [labels, value] of samples) out.push(`${name}${labelText(labels)} ${formatValue(value)}`);
  };

  const expiry: [Labels, number][] = [];
  const renewal: [Labels, number][] = [];
  const tokenExpiry: [Labels, number][] = [];
  const conditions: [Labels, number][] = [];
  for (const raw of source.certificates()) {
    const cert = parseBTPCertificate(raw);
    if (cert === undefined) continue;
    const id = { namespace: cert.metadata.namespace, name: cert.metadata.name };
    const st = cert.status;
    const seconds = (text: string | undefined) => (text === undefined ? Number.NaN : Date.parse(text) / 1000);
    if (st?.notAfter !== undefined)
      expiry.push([{ ...id, secret: cert.spec.secretName }, seconds(st.notAfter)]);
    if (st?.renewalTime !== undefined) renewal.push([id, seconds(st.renewalTime)]);
    if (st?.token?.expiresAt !== undefined) tokenExpiry.push([id, seconds(st.token.expiresAt)]);
    for (const type of CONDITIONS) {
      const current = st?.conditions?.find((c) => c.type === type)?.status ?? 'Unknown';
      for (const status of STATUSES)
        conditions.push([{ ...id, condition: type, status }, current === status ? 1 : 0]);
    }
  }
  family(
    'btpcert_certificate_expiration_timestamp_seconds',
    'gauge',
    'notAfter of the certificate in the Secret, as a Unix time.',
    expiry,
  );
  family(
    'btpcert_certificate_renewal_timestamp_seconds',
    'gauge',
    'When the certificate is renewed, as a Unix time.',
    renewal,
  );
  family(
    'btpcert_certificate_condition',
    'gauge',
    'The status of the Ready and TokenReady conditions: 1 for the current one.',
    conditions,
  );
  family(
    'btpcert_token_expiration_timestamp_seconds',
    'gauge',
    'When the token of the last successful token check expires, as a Unix time.',
    tokenExpiry,
  );
  family(
    'btpcert_reconcile_total',
    'counter',
    'Reconcile runs by outcome.',
    Object.entries(source.reconciles()).map(([outcome, n]) => [{ outcome }, n]),
  );
  family(
    'btpcert_btp_requests_total',
    'counter',
    'Requests to BTP (Service Manager, XSUAA) by operation and outcome: an HTTP status, or the error code when there was none.',
    Object.entries(source.btpRequests()).flatMap(([operation, outcomes]) =>
      Object.entries(outcomes).map(([outcome, n]): [Labels, number] => [{ operation, outcome }, n]),
    ),
  );
  return `${out.join('\n')}\n`;
}

/** Merges request counts of several clients. */
export function mergeCounts(
  ...counts: readonly Readonly<Record<string, Readonly<Record<string, number>>>>[]
): Record<string, Record<string, number>> {
  const merged: Record<string, Record<string, number>> = {};
  for (const byOperation of counts) {
    for (const [operation, outcomes] of Object.entries(byOperation)) {
      const target = merged[operation] ?? {};
      merged[operation] = target;
      for (const [outcome, n] of Object.entries(outcomes)) target[outcome] = (target[outcome] ?? 0) + n;
    }
  }
  return merged;
}

function labelText(labels: Labels): string {
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`);
  return parts.length === 0 ? '' : `{${parts.join(',')}}`;
}

function escapeLabel(value: string): string {
  return value.replaceAll('\\', '\\\\').replaceAll('"', '\\"').replaceAll('\n', '\\n');
}

function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Number.POSITIVE_INFINITY) return '+Inf';
  if (value === Number.NEGATIVE_INFINITY) return '-Inf';
  return String(value);
}
