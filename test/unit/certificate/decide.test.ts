// decide(): the whole decision for one BTPCertificate, table-driven with a fixed clock. No fakes:
// the inputs are plain values, the certificates real (test/unit/pki/fixtures.ts).
import { spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { BTPCertificate, BTPCertificateSpec } from '../../../src/api/types.ts';
import {
  decide,
  type Observed,
  type Plan,
  ROTATION_RETRY,
  rotationRetryMs,
  type SourceObservation,
} from '../../../src/certificate/decide.ts';
import {
  DATA_HASH_ANNOTATION,
  type ExistingSecret,
  KEYSTORE_HASH_ANNOTATION,
  sha256,
} from '../../../src/certificate/secret.ts';
import { buildHierarchy, concat, DAY, days, keyPem, NOW, testKey } from '../pki/fixtures.ts';

const h = buildHierarchy();

/** Whether `openssl pkcs12` opens the keystore with `password` (MAC and decryption). */
function opensWith(keystore: Buffer, password: string): boolean {
  const directory = mkdtempSync(join(tmpdir(), 'decide-keystore-'));
  try {
    const file = join(directory, 'keystore.p12');
    writeFileSync(file, keystore);
    const { status, error } = spawnSync(
      'openssl',
      ['pkcs12', '-in', file, '-passin', `pass:${password}`, '-nodes', '-noout'],
      { timeout: 30_000 },
    );
    if (error !== undefined) throw error;
    return status === 0;
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
}
const PEMS = { certificate: concat(h.leaf, h.intermediate, h.root), key: keyPem(h.leaf.key, 'pkcs1') };
const FIELDS = {
  clientid: 'sb-1',
  certurl: 'https://cert.example',
  url: 'https://uaa.example',
  'credential-type': 'x509',
};

function certificate(
  spec: Partial<BTPCertificateSpec> = {},
  extra: Partial<BTPCertificate> = {},
): BTPCertificate {
  return {
    apiVersion: 'btpcerts.io/v1alpha1',
    kind: 'BTPCertificate',
    metadata: { name: 'c', namespace: 'ns', uid: 'uid-1', generation: 3, resourceVersion: '7', labels: {} },
    spec: { secretName: 'tls', source: { secret: { name: 'src' } }, ...spec },
    ...extra,
  };
}

function source(
  pems = PEMS,
  renewal: Extract<SourceObservation, { ok: true }>['renewal'] = { kind: 'none' },
): SourceObservation {
  return {
    ok: true,
    description: 'Secret/src',
    revision: '42',
    credentials: { ok: true, ...pems, fields: { ...FIELDS, ...pems } },
    renewal,
  };
}

const observe = (o: Partial<Observed> = {}): Observed => ({
  certificate: certificate(),
  source: source(),
  secret: undefined,
  keystorePassword: undefined,
  now: NOW,
  ...o,
});

/** The Secret as the API would return it after applying what `plan` wrote. */
function written(plan: Plan): ExistingSecret {
  if (plan.write === undefined) throw new Error('nothing written');
  const annotations: Record<string, string> = { ...plan.write.secret.annotations };
  const data: Record<string, string> = { ...plan.write.secret.data };
  if (plan.write.keystore !== undefined) {
    data['keystore.p12'] = plan.write.keystore.toString('base64');
    annotations[KEYSTORE_HASH_ANNOTATION] = sha256(data['keystore.p12']);
  }
  return {
    type: 'kubernetes.io/tls',
    labels: plan.write.secret.labels,
    annotations,
    data,
    controllerUid: 'uid-1',
    resourceVersion: '1',
  };
}

/** The BTPCertificate after its status was patched with `plan.status`. */
const withStatus = (cert: BTPCertificate, plan: Plan): BTPCertificate => ({ ...cert, status: plan.status });

const condition = (plan: Plan, type: string) => plan.status.conditions?.find((c) => c.type === type);

describe('decide: valid credentials', () => {
  it('writes the Secret: chain leaf first, ca above it, key as delivered, binding fields', () => {
    const shuffled = { ...PEMS, certificate: concat(h.root, h.leaf, h.intermediate) };
    const plan = decide(observe({ source: source(shuffled) }));
    const data = plan.write?.secret.data ?? {};
    expect(data['tls.crt']).toBe(concat(h.leaf, h.intermediate));
    expect(data['ca.crt']).toBe(concat(h.intermediate, h.root));
    expect(data['tls.key']).toBe(PEMS.key);
    expect(data).toMatchObject({ ...FIELDS, type: 'xsuaa', provider: 'sap' });
    expect(data).not.toHaveProperty('certificate');
    expect(plan.write?.secret.annotations[DATA_HASH_ANNOTATION]).toMatch(/^[0-9a-f]{64}$/);
    expect(plan.events).toEqual([expect.objectContaining({ type: 'Normal', reason: 'Issued' })]);
  });

  it('reports Ready, the certificate facts, the renewal time, and schedules itself for it', () => {
    const plan = decide(observe());
    expect(condition(plan, 'Ready')).toMatchObject({
      status: 'True',
      reason: 'Issued',
      observedGeneration: 3,
    });
    // decide writes every condition: with no check run yet, TokenReady says so.
    expect(condition(plan, 'TokenReady')).toMatchObject({ status: 'Unknown', reason: 'TokenCheckPending' });
    expect(plan.credentials?.fingerprint).toBe(plan.status.sha256Fingerprint);
    expect(condition(plan, 'Stalled')).toMatchObject({ status: 'False' });
    expect(condition(plan, 'Reconciling')).toMatchObject({ status: 'False' });
    expect(condition(plan, 'Renewal')).toMatchObject({ status: 'False', reason: 'NotDue' });
    const lifetime = 7 * DAY;
    const renewAt = new Date(h.leaf.notAfter.getTime() - lifetime / 3);
    expect(plan.status).toMatchObject({
      observedGeneration: 3,
      source: 'Secret/src',
      sourceRevision: '42',
      notBefore: h.leaf.notBefore.toISOString().replace('.000', ''),
      notAfter: h.leaf.notAfter.toISOString().replace('.000', ''),
      renewalTime: new Date(Math.floor(renewAt.getTime() / 1000) * 1000).toISOString().replace('.000', ''),
      subject: h.leaf.subject,
    });
    expect(plan.status.sha256Fingerprint).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    expect(plan.requeueAt?.getTime()).toBe(Math.floor(renewAt.getTime() / 1000) * 1000);
  });

  it('does not write a Secret that is already right, and sends no event', () => {
    const first = decide(observe());
    const second = decide(observe({ certificate: withStatus(certificate(), first), secret: written(first) }));
    expect(second.write).toBeUndefined();
    expect(second.events).toEqual([]);
    expect(second.status).toEqual(first.status);
  });

  it('restores a Secret someone edited, with a Restored warning', () => {
    const first = decide(observe());
    const tampered = written(first);
    const plan = decide(
      observe({
        certificate: withStatus(certificate(), first),
        secret: { ...tampered, data: { ...tampered.data, 'tls.key': 'edited' } },
      }),
    );
    expect(plan.write?.secret.data['tls.key']).toBe(PEMS.key);
    expect(plan.events).toEqual([expect.objectContaining({ type: 'Warning', reason: 'Restored' })]);
  });

  it('reports Updated when the source has new credentials', () => {
    const first = decide(observe());
    const next = buildHierarchy({ leaf: { notBefore: days(0), notAfter: days(7) } });
    const pems = { certificate: concat(next.leaf, next.intermediate), key: keyPem(next.leaf.key, 'pkcs1') };
    const plan = decide(
      observe({
        certificate: withStatus(certificate(), first),
        secret: written(first),
        source: source(pems),
      }),
    );
    expect(plan.events).toEqual([expect.objectContaining({ type: 'Normal', reason: 'Updated' })]);
  });

  it('keeps lastTransitionTime while a condition keeps its status', () => {
    const first = decide(observe());
    const later = decide(
      observe({
        certificate: withStatus(certificate(), first),
        secret: written(first),
        now: new Date(NOW.getTime() + 60_000),
      }),
    );
    expect(condition(later, 'Ready')?.lastTransitionTime).toBe(condition(first, 'Ready')?.lastTransitionTime);
  });

  it('copies the BTPCertificate labels except those GitOps tools track objects by', () => {
    const cert = certificate(
      { secretTemplate: { labels: { team: 'a' }, annotations: { note: 'x' } } },
      {
        metadata: {
          ...certificate().metadata,
          labels: {
            app: 'orders',
            'argocd.argoproj.io/instance': 'orders',
            'app.kubernetes.io/instance': 'orders',
            'kustomize.toolkit.fluxcd.io/name': 'apps',
          },
        },
      },
    );
    const labels = decide(observe({ certificate: cert })).write?.secret.labels ?? {};
    expect(labels).toMatchObject({ app: 'orders', team: 'a', 'btpcerts.io/managed': 'true' });
    expect(Object.keys(labels).filter((k) => /argocd|instance|fluxcd/.test(k))).toEqual([]);
  });

  it('renders secretTemplate.data, and reports a missing field as InvalidSecretTemplate', () => {
    const ok = decide(
      observe({
        certificate: certificate({ secretTemplate: { data: { tokenurl: '{{certurl}}/oauth/token' } } }),
      }),
    );
    expect(ok.write?.secret.data.tokenurl).toBe('https://cert.example/oauth/token');
    const bad = decide(
      observe({ certificate: certificate({ secretTemplate: { data: { sm: '{{sm_url}}' } } }) }),
    );
    expect(bad.write).toBeUndefined();
    expect(condition(bad, 'Ready')).toMatchObject({ status: 'False', reason: 'InvalidSecretTemplate' });
  });

  it('adds CombinedPEM and a PKCS12 keystore; a keystore already written is not rebuilt', () => {
    const cert = certificate({
      additionalOutputFormats: [
        { type: 'CombinedPEM' },
        { type: 'PKCS12', passwordSecretRef: { name: 'p', key: 'k' } },
      ],
    });
    const first = decide(
      observe({ certificate: cert, keystorePassword: { ok: true, password: 'changeit' } }),
    );
    expect(first.write?.secret.data['tls-combined.pem']).toBe(`${PEMS.key}${concat(h.leaf, h.intermediate)}`);
    const keystore = first.write?.keystore;
    if (keystore === undefined) throw new Error('expected a keystore');
    expect(opensWith(keystore, 'changeit')).toBe(true);
    const again = decide(
      observe({
        certificate: withStatus(cert, first),
        secret: written(first),
        keystorePassword: { ok: true, password: 'changeit' },
      }),
    );
    expect(again.write).toBeUndefined();
    const newPassword = decide(
      observe({
        certificate: withStatus(cert, first),
        secret: written(first),
        keystorePassword: { ok: true, password: 'other' },
      }),
    );
    // Rebuilt for the new password: it opens with that one and no longer with the old.
    const rebuilt = newPassword.write?.keystore;
    if (rebuilt === undefined) throw new Error('expected the keystore to be rebuilt for the new password');
    expect(opensWith(rebuilt, 'other')).toBe(true);
    expect(opensWith(rebuilt, 'changeit')).toBe(false);
    const missing = decide(
      observe({ certificate: cert, keystorePassword: { ok: false, message: 'Secret p not found' } }),
    );
    expect(condition(missing, 'Ready')).toMatchObject({ reason: 'PasswordSecretNotFound' });
  });
});

describe('decide: bad input never reaches the Secret', () => {
  const ec = testKey('other', 'ec');
  const cases: [string, Partial<Observed>, string, 'Stalled' | 'Reconciling'][] = [
    [
      'source missing',
      {
        source: {
          ok: false,
          description: 'Secret/src',
          reason: 'SourceNotFound',
          message: 'Secret src not found',
        },
      },
      'SourceNotFound',
      'Reconciling',
    ],
    [
      'client-secret binding',
      { source: { ok: false, description: 'Secret/src', reason: 'NotX509Credentials', message: 'm' } },
      'NotX509Credentials',
      'Stalled',
    ],
    [
      'garbage certificate',
      { source: source({ ...PEMS, certificate: 'not a pem' }) },
      'InvalidCertificate',
      'Stalled',
    ],
    [
      'truncated certificate',
      { source: source({ ...PEMS, certificate: h.leaf.pem.slice(0, 300) }) },
      'InvalidCertificate',
      'Stalled',
    ],
    [
      'key of another binding',
      { source: source({ ...PEMS, key: keyPem(ec, 'pkcs8') }) },
      'KeyMismatch',
      'Stalled',
    ],
    [
      'chain missing its intermediate',
      { source: source({ ...PEMS, certificate: concat(h.leaf, h.root) }) },
      'BrokenChain',
      'Stalled',
    ],
    ['expired', { now: days(30) }, 'Expired', 'Stalled'],
    ['not yet valid', { now: days(-3) }, 'NotYetValid', 'Reconciling'],
  ];

  it.each(cases)('%s -> %s, no write, a Warning event', (_name, o, reason, kstatus) => {
    const plan = decide(observe(o));
    expect(plan.write).toBeUndefined();
    expect(condition(plan, 'Ready')).toMatchObject({ status: 'False', reason });
    expect(condition(plan, kstatus)).toMatchObject({ status: 'True', reason });
    expect(plan.events).toEqual([expect.objectContaining({ type: 'Warning', reason })]);
    expect(JSON.stringify(plan)).not.toContain('PRIVATE KEY');
  });

  it('keeps the facts of the last good certificate in status when new credentials are bad', () => {
    const good = decide(observe());
    const bad = decide(
      observe({
        certificate: withStatus(certificate(), good),
        source: source({ ...PEMS, certificate: 'x' }),
      }),
    );
    expect(bad.status.sha256Fingerprint).toBe(good.status.sha256Fingerprint);
    expect(bad.status.notAfter).toBe(good.status.notAfter);
  });

  it('sends the warning once, not on every retry', () => {
    const o = observe({ source: source({ ...PEMS, certificate: 'not a pem' }) });
    const first = decide(o);
    const second = decide({ ...o, certificate: withStatus(o.certificate, first) });
    expect(second.events).toEqual([]);
  });

  it('never overwrites a Secret it does not control', () => {
    for (const controllerUid of [undefined, 'someone-else']) {
      const foreign: ExistingSecret = {
        type: 'Opaque',
        labels: {},
        annotations: {},
        data: { a: 'b' },
        controllerUid,
        resourceVersion: '1',
      };
      const plan = decide(observe({ secret: foreign }));
      expect(plan.write).toBeUndefined();
      expect(condition(plan, 'Ready')).toMatchObject({ status: 'False', reason: 'SecretConflict' });
      expect(condition(plan, 'Stalled')).toMatchObject({ status: 'True' });
    }
  });
});

describe('decide: renewal', () => {
  const renewAt = new Date(h.leaf.notAfter.getTime() - (7 * DAY) / 3);
  const due = new Date(renewAt.getTime() + 1000);
  const sb = (rotationEnabled: boolean, rotationRequested = false) =>
    source(PEMS, { kind: 'service-binding', name: 'sb', rotationEnabled, rotationRequested });

  it('asks the ServiceBinding to rotate once renewal is due, and only once', () => {
    const plan = decide(observe({ source: sb(true), now: due }));
    expect(plan.rotate).toEqual({ serviceBinding: 'sb' });
    expect(condition(plan, 'Renewal')).toMatchObject({ status: 'True', reason: 'RotationRequested' });
    expect(plan.status.lastRotationRequestTime).toBe(due.toISOString().replace('.000', ''));
    expect(condition(plan, 'Ready')).toMatchObject({ status: 'True' });
    // The annotation is still there: no second request.
    const pending = decide(
      observe({
        certificate: withStatus(certificate(), plan),
        source: sb(true, true),
        now: new Date(due.getTime() + 5000),
      }),
    );
    expect(pending.rotate).toBeUndefined();
    // The BTP operator consumed the annotation but no new certificate came: asked again after the retry interval.
    const soon = decide(
      observe({
        certificate: withStatus(certificate(), plan),
        source: sb(true),
        now: new Date(due.getTime() + 60_000),
      }),
    );
    expect(soon.rotate).toBeUndefined();
    const later = decide(
      observe({
        certificate: withStatus(certificate(), plan),
        source: sb(true),
        now: new Date(due.getTime() + 16 * 60_000),
      }),
    );
    expect(later.rotate).toEqual({ serviceBinding: 'sb' });
  });

  it('does not rotate before the renewal time', () => {
    const plan = decide(observe({ source: sb(true), now: new Date(renewAt.getTime() - 1000) }));
    expect(plan.rotate).toBeUndefined();
    expect(plan.requeueAt?.getTime()).toBe(renewAt.getTime() - (renewAt.getTime() % 1000));
  });

  it('says so, with a warning, when rotation is not enabled on the ServiceBinding', () => {
    const plan = decide(observe({ source: sb(false), now: due }));
    expect(plan.rotate).toBeUndefined();
    expect(condition(plan, 'Renewal')).toMatchObject({ status: 'False', reason: 'RotationNotEnabled' });
    expect(plan.events).toContainEqual(
      expect.objectContaining({ type: 'Warning', reason: 'RotationNotEnabled' }),
    );
  });

  it('a Secret source cannot renew: SourceCannotRenew', () => {
    const plan = decide(observe({ now: due }));
    expect(condition(plan, 'Renewal')).toMatchObject({ status: 'False', reason: 'SourceCannotRenew' });
  });

  it('asks for rotation of expired credentials too', () => {
    const plan = decide(observe({ source: sb(true), now: days(30) }));
    expect(condition(plan, 'Ready')).toMatchObject({ reason: 'Expired' });
    expect(plan.rotate).toEqual({ serviceBinding: 'sb' });
  });

  it('records which certificate a rotation request was for', () => {
    const plan = decide(observe({ source: sb(true), now: due }));
    expect(plan.status.lastRotationRequestFingerprint).toBe(plan.status.sha256Fingerprint);
  });

  it('issue 8 (2): a new certificate backdated before the rotation request is asked to rotate when due, without the retry wait', () => {
    const asked = decide(observe({ source: sb(true), now: due }));
    // The rotation brought a short-lived certificate whose CA backdated notBefore by an hour:
    // notBefore lies before the request, and renewal is due at once.
    const next = buildHierarchy({
      leaf: { notBefore: new Date(due.getTime() - 3_600_000), notAfter: new Date(due.getTime() + 120_000) },
    });
    const nextPems = {
      certificate: concat(next.leaf, next.intermediate, next.root),
      key: keyPem(next.leaf.key, 'pkcs1'),
    };
    const now = new Date(due.getTime() + 5_000);
    const plan = decide(
      observe({
        certificate: withStatus(certificate(), asked),
        source: source(nextPems, {
          kind: 'service-binding',
          name: 'sb',
          rotationEnabled: true,
          rotationRequested: false,
        }),
        now,
      }),
    );
    expect(plan.rotate).toEqual({ serviceBinding: 'sb' });
    expect(plan.status.lastRotationRequestTime).toBe(now.toISOString().replace('.000', ''));
    expect(plan.status.lastRotationRequestFingerprint).toBe(plan.status.sha256Fingerprint);
    expect(plan.status.lastRotationRequestFingerprint).not.toBe(asked.status.lastRotationRequestFingerprint);
  });

  it.each([
    ['seven days, asked at once: capped at 15 min', 7 * DAY, 0, ROTATION_RETRY.maxMs],
    ['one hour, asked at once: 5 % of the lifetime', 3_600_000, 0, 180_000],
    ['one minute: at least 10 s', 60_000, 0, ROTATION_RETRY.minMs],
    [
      '60 s backdated by an hour, asked 100 s before the end: a quarter of that',
      3_660_000,
      3_560_000,
      25_000,
    ],
    ['60 s backdated by an hour, asked 40 s before the end: at least 10 s', 3_660_000, 3_620_000, 10_000],
    ['seven days, asked after the end: 5 % of the lifetime, capped', 7 * DAY, 8 * DAY, ROTATION_RETRY.maxMs],
  ])(
    'the retry of an unanswered request scales with the certificate (%s)',
    (_name, lifetime, askedAfter, retry) => {
      expect(
        rotationRetryMs(NOW, new Date(NOW.getTime() + lifetime), new Date(NOW.getTime() + askedAfter)),
      ).toBe(retry);
    },
  );

  it('repeats an unanswered request for a one-hour certificate after 3 min, not 15', () => {
    const hour = buildHierarchy({
      leaf: { notBefore: days(0), notAfter: new Date(NOW.getTime() + 3_600_000) },
    });
    const pems = {
      certificate: concat(hour.leaf, hour.intermediate, hour.root),
      key: keyPem(hour.leaf.key, 'pkcs1'),
    };
    const shortSb = source(pems, {
      kind: 'service-binding',
      name: 'sb',
      rotationEnabled: true,
      rotationRequested: false,
    });
    const at = new Date(NOW.getTime() + 2_500_000);
    const asked = decide(observe({ source: shortSb, now: at }));
    expect(asked.rotate).toBeDefined();
    expect(asked.requeueAt?.getTime()).toBe(at.getTime() + 180_000);
    const askedAfter = (ms: number) =>
      decide(
        observe({
          certificate: withStatus(certificate(), asked),
          source: shortSb,
          now: new Date(at.getTime() + ms),
        }),
      );
    expect(askedAfter(179_000).rotate).toBeUndefined();
    expect(askedAfter(180_000).rotate).toEqual({ serviceBinding: 'sb' });
  });

  it('a request recorded without a fingerprint (an older operator) is repeated only after the retry', () => {
    const legacy = certificate(
      {},
      { status: { lastRotationRequestTime: due.toISOString().replace('.000', '') } },
    );
    const at = (ms: number) =>
      decide(observe({ certificate: legacy, source: sb(true), now: new Date(due.getTime() + ms) }));
    expect(at(60_000).rotate).toBeUndefined();
    expect(at(ROTATION_RETRY.maxMs).rotate).toEqual({ serviceBinding: 'sb' });
  });

  it('issue 8 (5): a request the BTP operator skips (Succeeded=False) is reported after the retry, with a warning, and stays', () => {
    const blocked = (requested: boolean) =>
      source(PEMS, {
        kind: 'service-binding',
        name: 'sb',
        rotationEnabled: true,
        rotationRequested: requested,
        rotationBlocked: 'its Succeeded condition is False (InProgress: Operation in progress)',
      });
    const asked = decide(observe({ source: blocked(false), now: due }));
    expect(asked.rotate).toEqual({ serviceBinding: 'sb' });
    const waiting = decide(
      observe({
        certificate: withStatus(certificate(), asked),
        source: blocked(true),
        now: new Date(due.getTime() + 60_000),
      }),
    );
    expect(condition(waiting, 'Renewal')).toMatchObject({ status: 'True', reason: 'RotationRequested' });
    expect(waiting.requeueAt?.getTime()).toBe(due.getTime() + ROTATION_RETRY.maxMs);
    const stuck = decide(
      observe({
        certificate: withStatus(certificate(), waiting),
        source: blocked(true),
        now: new Date(due.getTime() + ROTATION_RETRY.maxMs),
      }),
    );
    expect(stuck.rotate).toBeUndefined();
    expect(condition(stuck, 'Renewal')).toMatchObject({ status: 'False', reason: 'SourceNotReady' });
    expect(condition(stuck, 'Renewal')?.message).toContain('Operation in progress');
    expect(condition(stuck, 'Ready')).toMatchObject({ status: 'True' });
    expect(stuck.events).toContainEqual(
      expect.objectContaining({ type: 'Warning', reason: 'SourceNotReady' }),
    );
    const again = decide(
      observe({
        certificate: withStatus(certificate(), stuck),
        source: blocked(true),
        now: new Date(due.getTime() + 2 * ROTATION_RETRY.maxMs),
      }),
    );
    expect(again.events.filter((e) => e.reason !== 'Issued')).toEqual([]);
    expect(again.status).toEqual(stuck.status);
  });

  it('asks again for expired credentials only once the retry passed, also when the answer was another expired certificate', () => {
    const expiredAt = days(30);
    const first = decide(observe({ source: sb(true), now: expiredAt }));
    expect(first.rotate).toEqual({ serviceBinding: 'sb' });
    expect(first.status.lastRotationRequestFingerprint).toBe(new X509Certificate(h.leaf.pem).fingerprint256);
    expect(first.requeueAt?.getTime()).toBe(expiredAt.getTime() + ROTATION_RETRY.maxMs);
    const soon = decide(
      observe({
        certificate: withStatus(certificate(), first),
        source: sb(true),
        now: new Date(expiredAt.getTime() + 60_000),
      }),
    );
    expect(soon.rotate).toBeUndefined();
    expect(soon.requeueAt?.getTime()).toBe(expiredAt.getTime() + ROTATION_RETRY.maxMs);
    const other = buildHierarchy({ leaf: { notBefore: days(-10), notAfter: days(-1) } });
    const otherPems = {
      certificate: concat(other.leaf, other.intermediate, other.root),
      key: keyPem(other.leaf.key, 'pkcs1'),
    };
    const replaced = decide(
      observe({
        certificate: withStatus(certificate(), first),
        source: source(otherPems, {
          kind: 'service-binding',
          name: 'sb',
          rotationEnabled: true,
          rotationRequested: false,
        }),
        now: new Date(expiredAt.getTime() + 60_000),
      }),
    );
    // Asking at once would loop as fast as the source issues expired certificates.
    expect(replaced.rotate).toBeUndefined();
    expect(replaced.requeueAt?.getTime()).toBe(expiredAt.getTime() + ROTATION_RETRY.maxMs);
  });

  it('honours renewBefore and renewBeforePercentage', () => {
    const before = decide(observe({ certificate: certificate({ renewBefore: '24h' }) }));
    expect(before.status.renewalTime).toBe(
      new Date(h.leaf.notAfter.getTime() - DAY).toISOString().replace('.000', ''),
    );
    const pct = decide(observe({ certificate: certificate({ renewBeforePercentage: 50 }) }));
    expect(pct.status.renewalTime).toBe(
      new Date(h.leaf.notAfter.getTime() - 3.5 * DAY).toISOString().replace('.000', ''),
    );
  });
});
