// `kubectl btpcert inspect secret NAME`: what a TLS Secret holds, decoded on this machine with the
// operator's own validation (src/pki). Nothing of the key is shown but its type, encoding and
// whether it belongs to the leaf; keystores are reported by presence and size only.

import { type InspectedCertificate, inspectPair, type PairInspection } from '../pki/index.ts';
import type { SecretView } from './client.ts';
import { fields, printable, when } from './format.ts';

export type InspectView = {
  readonly namespace: string;
  readonly name: string;
  readonly type: string;
  /** true when the operator would write this pair: it parses, links, matches and is within validity. */
  readonly valid: boolean;
  /** The first reason it is not, as the operator's condition reasons name it. */
  readonly problem: { readonly reason: string; readonly message: string } | undefined;
  readonly certificates: readonly (Omit<InspectedCertificate, 'notBefore' | 'notAfter'> & {
    readonly notBefore: string;
    readonly notAfter: string;
  })[];
  /** 'leaf first' when tls.crt is in chain order, else the order it should have. */
  readonly chainOrder: 'leaf first' | 'not one chain' | readonly number[];
  readonly key: PairInspection['key'];
  readonly keyMatchesLeaf: boolean | undefined;
  /** Certificates in ca.crt, undefined when absent. */
  readonly caCertificates: number | undefined;
  /** The other formats the operator may write, by presence and size in bytes. */
  readonly keystores: { readonly 'keystore.p12'?: number; readonly 'tls-combined.pem'?: number };
};

/** ISO 8601 to the second, as status has it (certificates carry no milliseconds). */
const instant = (date: Date) => date.toISOString().replace('.000Z', 'Z');

const text = (data: Readonly<Record<string, Buffer>>, key: string) => data[key]?.toString('utf8');

function countCertificates(pem: string): number {
  return pem.split('-----BEGIN CERTIFICATE-----').length - 1;
}

export function inspectView(secret: SecretView, now: Date): InspectView {
  const certificate = text(secret.data, 'tls.crt');
  const key = text(secret.data, 'tls.key');
  const missing = [
    certificate === undefined ? 'tls.crt' : undefined,
    key === undefined ? 'tls.key' : undefined,
  ]
    .filter((k) => k !== undefined)
    .join(' and ');
  const inspection = inspectPair(certificate ?? '', key ?? '', now);
  const problem =
    missing !== ''
      ? { reason: 'MissingKeys', message: `the Secret has no ${missing}` }
      : inspection.verdict === null
        ? undefined
        : { reason: inspection.verdict.code, message: inspection.verdict.message };
  const order = inspection.chainOrder;
  const ca = text(secret.data, 'ca.crt');
  const sizes: Record<string, number> = {};
  for (const k of ['keystore.p12', 'tls-combined.pem']) {
    const v = secret.data[k];
    if (v !== undefined) sizes[k] = v.length;
  }
  return {
    namespace: secret.namespace,
    name: secret.name,
    type: secret.type,
    valid: problem === undefined,
    problem,
    certificates:
      certificate === undefined
        ? []
        : inspection.certificates.map((c) => ({
            ...c,
            notBefore: instant(c.notBefore),
            notAfter: instant(c.notAfter),
          })),
    chainOrder:
      order === undefined
        ? 'not one chain'
        : order.every((block, i) => block === i + 1)
          ? 'leaf first'
          : order,
    key: key === undefined ? undefined : inspection.key,
    keyMatchesLeaf: certificate === undefined || key === undefined ? undefined : inspection.keyMatchesLeaf,
    caCertificates: ca === undefined ? undefined : countCertificates(ca),
    keystores: sizes,
  };
}

const yesNo = (v: boolean | undefined) =>
  v === undefined ? 'unknown (see the problem above)' : v ? 'yes' : 'NO';

export function formatInspect(view: InspectView, now: Date): string {
  const lines = fields([
    ['Secret', `${view.namespace}/${view.name}`],
    ['Type', view.type],
    ['Valid', view.valid ? 'yes: the operator would write this pair' : 'NO'],
    ['Problem', view.problem && `${view.problem.reason}: ${view.problem.message}`],
  ]);
  const order = view.chainOrder;
  lines.push(
    '',
    `Certificates (tls.crt, ${view.certificates.length}): ${
      order === 'leaf first' || order === 'not one chain'
        ? order
        : `out of order, the chain is blocks ${order.join(', ')}`
    }`,
  );
  for (const c of view.certificates) {
    const validity =
      c.validity === 'valid' ? 'valid' : c.validity === 'expired' ? 'EXPIRED' : 'NOT YET VALID';
    lines.push(
      `  [${c.block}] ${printable(c.subject) || '(empty subject)'}${c.selfSigned ? ' (self-signed)' : ''}`,
      ...fields(
        [
          ['Issuer', c.issuer],
          ['Not before', when(c.notBefore, now)],
          ['Not after', when(c.notAfter, now)],
          ['Validity', validity],
          ['Serial', c.serialNumber],
          ['SHA-256', c.sha256Fingerprint],
        ],
        '      ',
      ),
    );
  }
  lines.push(
    '',
    ...fields([
      ['Key (tls.key)', view.key ? `${view.key.type}, ${view.key.format}` : 'absent or unreadable'],
      ['Key matches leaf', yesNo(view.keyMatchesLeaf)],
      ['ca.crt', view.caCertificates === undefined ? 'absent' : `${view.caCertificates} certificate(s)`],
      ['keystore.p12', sizeOf(view.keystores['keystore.p12'])],
      ['tls-combined.pem', sizeOf(view.keystores['tls-combined.pem'])],
    ]),
  );
  return `${lines.join('\n')}\n`;
}

const sizeOf = (bytes: number | undefined) => (bytes === undefined ? 'absent' : `present (${bytes} bytes)`);
