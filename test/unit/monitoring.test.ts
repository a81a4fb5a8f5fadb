// The monitoring component (deploy/components/monitoring): every PromQL expression of the
// PrometheusRule and of the Grafana dashboard is parsed by Prometheus' own grammar (lezer-promql,
// the parser of the Prometheus UI), and every series it selects, with its label matchers, must be
// one the operator exports: names, label names and label values are checked against a scrape of
// an operator's registry that has every series.
import { readFileSync } from 'node:fs';
import { parser } from '@prometheus-io/lezer-promql';
import { load } from 'js-yaml';
import { describe, expect, it } from 'vitest';
import { OperatorMetrics } from '../../src/observability/metrics.ts';
import { parseExposition } from '../support/exposition.ts';

const DIR = new URL('../../deploy/components/monitoring/', import.meta.url);
const read = (file: string) => readFileSync(new URL(file, DIR), 'utf8');

type Rule = {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
};
type PrometheusRule = { kind: string; spec: { groups: { name: string; rules: Rule[] }[] } };
type Panel = { title: string; targets?: { refId: string; expr: string }[]; panels?: Panel[] };
type Dashboard = {
  panels: Panel[];
  templating: { list: { name: string; type: string; definition?: string }[] };
};

type SyntaxNode = ReturnType<typeof parser.parse>['topNode'];

const rule = load(read('prometheusrule.yaml')) as PrometheusRule;
const dashboard = JSON.parse(read('dashboard.json')) as Dashboard;
const rules = rule.spec.groups.flatMap((g) => g.rules);

/** Labels Prometheus adds to every series of a PodMonitor target (honorLabels keeps the series' own). */
const TARGET_LABELS = new Set(['namespace', 'pod', 'container', 'endpoint', 'job', 'instance']);
/** Grafana's interval variables, as Grafana substitutes them before the query is sent. */
const GRAFANA_INTERVALS: Record<string, string> = {
  $__rate_interval: '5m',
  $__interval: '1m',
  $__range: '1h',
};

/** Every series name, label and label value of a scrape in which each family has series. */
async function exported() {
  const metrics = new OperatorMetrics({
    certificates: () => [
      {
        apiVersion: 'btpcerts.io/v1alpha1',
        kind: 'BTPCertificate',
        metadata: { name: 'a', namespace: 'orders', uid: 'u', generation: 1, resourceVersion: '1' },
        spec: { secretName: 'a-tls', source: { secret: { name: 'src' } } },
        status: {
          notAfter: '2026-12-05T00:00:00Z',
          renewalTime: '2026-12-02T16:00:00Z',
          token: { expiresAt: '2026-11-28T12:00:00Z' },
        },
      },
    ],
    queueDepth: () => 0,
    leader: () => true,
  });
  metrics.btpRequest('sm.createBinding', '201', 100);
  metrics.tokenCheck('TokenIssued', 100);
  const labels = new Map<string, Map<string, Set<string>>>();
  for (const s of parseExposition(await metrics.text()).samples) {
    const byLabel = labels.get(s.name) ?? new Map<string, Set<string>>();
    labels.set(s.name, byLabel);
    for (const [k, v] of Object.entries(s.labels)) byLabel.set(k, (byLabel.get(k) ?? new Set()).add(v));
  }
  return labels;
}
const series = await exported();

/** What is wrong with one expression: syntax errors, and selectors of series nobody exports. */
function problems(expr: string): string[] {
  let text = expr;
  for (const [variable, value] of Object.entries(GRAFANA_INTERVALS)) text = text.replaceAll(variable, value);
  const out: string[] = [];
  const tree = parser.parse(text);
  tree.iterate({
    enter: (ref) => {
      if (ref.type.isError) out.push(`syntax error at ${ref.from}: …${text.slice(ref.from, ref.from + 20)}`);
      if (ref.name === 'VectorSelector') out.push(...selectorProblems(ref.node, text));
    },
  });
  return out;
}

function selectorProblems(node: SyntaxNode, text: string): string[] {
  const source = (n: SyntaxNode | null) => (n === null ? '' : text.slice(n.from, n.to));
  const name = source(node.getChild('Identifier'));
  const labels = series.get(name);
  if (labels === undefined) return [`${name || source(node)}: not a series the operator exports`];
  const out: string[] = [];
  for (const m of node.getChild('LabelMatchers')?.getChildren('UnquotedLabelMatcher') ?? []) {
    const label = source(m.getChild('LabelName'));
    const value = JSON.parse(source(m.getChild('StringLiteral'))) as string;
    const values = labels.get(label);
    if (values === undefined) {
      if (!TARGET_LABELS.has(label)) out.push(`${name}: no label ${label}`);
      continue;
    }
    // Literal values (and alternatives of literals) must be values the operator writes.
    if (value.includes('$')) continue;
    for (const alternative of value.split('|')) {
      if (/^[\w.-]+$/.test(alternative) && !values.has(alternative))
        out.push(`${name}: ${label}="${alternative}" is never exported (${[...values].join(', ')})`);
    }
  }
  return out;
}

function panels(list: readonly Panel[]): Panel[] {
  return list.flatMap((p) => [p, ...panels(p.panels ?? [])]);
}

describe('PrometheusRule', () => {
  it('is a PrometheusRule whose alerts all have a severity, a summary and a description', () => {
    expect(rule.kind).toBe('PrometheusRule');
    expect(rules.length).toBeGreaterThan(0);
    for (const r of rules) {
      expect(r.alert, r.expr).toMatch(/^BTPCert/);
      expect(['warning', 'critical'], r.alert).toContain(r.labels?.severity);
      expect(r.annotations?.summary, r.alert).toBeTruthy();
      expect(r.annotations?.description, r.alert).toBeTruthy();
    }
  });

  it("has the README's alerts: expiry within 24 h, TokenReady False for 30 min, renewal overdue", () => {
    const byName = new Map(rules.map((r) => [r.alert, r]));
    expect(byName.get('BTPCertificateExpiresSoon')?.expr).toContain('86400');
    expect(byName.get('BTPCertificateTokenNotReady')?.for).toBe('30m');
    expect(byName.get('BTPCertificateRenewalOverdue')?.expr).toContain(
      'btpcert_certificate_renewal_timestamp_seconds',
    );
  });

  it.each(rules.map((r) => [r.alert ?? r.record, r.expr]))(
    '%s: valid PromQL over exported series',
    (_name, expr) => {
      expect(problems(expr)).toEqual([]);
    },
  );
});

describe('Grafana dashboard', () => {
  const targets = panels(dashboard.panels).flatMap((p) =>
    (p.targets ?? []).map((t) => [`${p.title} ${t.refId}`, t.expr] as const),
  );

  it('has panels with queries', () => {
    expect(targets.length).toBeGreaterThan(10);
  });

  it.each(targets)('%s: valid PromQL over exported series', (_name, expr) => {
    expect(problems(expr)).toEqual([]);
  });

  it('its variables query exported series and labels', () => {
    for (const v of dashboard.templating.list.filter((x) => x.type === 'query')) {
      const m = /^label_values\((\w+), (\w+)\)$/.exec(v.definition ?? '');
      expect(m, v.name).not.toBeNull();
      expect(series.get(m?.[1] ?? '')?.has(m?.[2] ?? ''), v.name).toBe(true);
    }
  });
});

describe('the checks themselves', () => {
  it.each([
    ['rate(btpcert_reconcile_total[5m]', /syntax error/],
    ['sum by (namespace) btpcert_leader)', /syntax error/],
    ['btpcert_certificate_expiry_seconds - time()', /not a series the operator exports/],
    ['btpcert_certificate_condition{type="Ready"}', /no label type/],
    [
      'btpcert_certificate_condition{condition="TokenReady", status="false"}',
      /status="false" is never exported/,
    ],
    ['btpcert_reconcile_duration_seconds{outcome="requeue"}', /not a series/],
  ])('%s is refused', (expr, why) => {
    expect(problems(expr).join('\n')).toMatch(why);
  });

  it('a selector on target labels and Grafana variables passes', () => {
    expect(problems('rate(process_cpu_seconds_total{pod=~".+"}[$__rate_interval])')).toEqual([]);
    expect(
      problems('btpcert_certificate_condition{namespace=~"$namespace", condition=~"Ready|TokenReady"}'),
    ).toEqual([]);
  });
});
