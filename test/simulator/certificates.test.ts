import { createPrivateKey, X509Certificate } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CredentialDefect } from '../support/btp-simulator/faults.ts';
import { pemBlocks } from '../support/btp-simulator/pem.ts';
import { type Simulator, startSimulator } from '../support/btp-simulator/simulator.ts';
import {
  agentFor,
  type CreatedBinding,
  createX509Binding,
  postForm,
  record,
  type SmClient,
  smClient,
  text,
} from './helpers.ts';

let sim: Simulator;
let sm: SmClient;
let xsuaaId: string;
let root: X509Certificate;
let sequence = 0;

beforeAll(async () => {
  sim = await startSimulator();
  sm = await smClient(sim);
  xsuaaId = sim.instance('xsuaa-application').id;
  root = new X509Certificate(sim.caBundlePem);
});

afterAll(async () => {
  await sm.close();
  await sim.stop();
});

function x509(validity: number, validityType: string, keyLength = 2048): unknown {
  return {
    'credential-type': 'x509',
    x509: { 'key-length': keyLength, validity, 'validity-type': validityType },
  };
}

function bind(parameters?: unknown): Promise<CreatedBinding> {
  sequence += 1;
  return createX509Binding(sm, xsuaaId, `cert-${sequence}`, parameters);
}

function chain(binding: CreatedBinding): X509Certificate[] {
  return pemBlocks(binding.certificate.cert).map((block) => new X509Certificate(block));
}

function lifetimeMs(certificate: X509Certificate): number {
  return certificate.validToDate.getTime() - certificate.validFromDate.getTime();
}

describe('issued certificates', () => {
  it('are a chain leaf -> intermediate -> simulator root, with a PKCS#1 key that matches the leaf', async () => {
    const binding = await bind();
    const [leaf, intermediate, top] = chain(binding);
    expect(leaf && intermediate && top).toBeTruthy();
    if (leaf === undefined || intermediate === undefined || top === undefined) return;
    expect(leaf.ca).toBe(false);
    expect(leaf.checkIssued(intermediate)).toBe(true);
    expect(leaf.verify(intermediate.publicKey)).toBe(true);
    expect(intermediate.checkIssued(top)).toBe(true);
    expect(top.fingerprint256).toBe(root.fingerprint256);
    expect(binding.certificate.key).toMatch(/^-----BEGIN RSA PRIVATE KEY-----\n/);
    expect(leaf.checkPrivateKey(createPrivateKey(binding.certificate.key))).toBe(true);
    expect(leaf.subject).toContain('O=SAP SE');
    expect(leaf.subject).toContain(`OU=${sim.subaccountId}`);
    expect(leaf.keyUsage).toContain('1.3.6.1.5.5.7.3.2');
    expect(lifetimeMs(leaf)).toBe(7 * 86_400_000);
  });

  it('have unique serial numbers', async () => {
    const serials = new Set<string>();
    for (let index = 0; index < 4; index += 1) serials.add(chain(await bind())[0]?.serialNumber ?? '');
    expect(serials.size).toBe(4);
  });

  it.each([
    [5, 'SECONDS', 5_000],
    [2, 'MINUTES', 120_000],
    [3, 'HOURS', 10_800_000],
    [30, 'DAYS', 30 * 86_400_000],
  ])('live exactly %i %s', async (validity, type, expected) => {
    expect(lifetimeMs(chain(await bind(x509(validity, type)))[0] as X509Certificate)).toBe(expected);
  });

  it('count MONTHS and YEARS on the calendar', async () => {
    const [months] = chain(await bind(x509(3, 'MONTHS')));
    const [years] = chain(await bind(x509(1, 'YEARS')));
    const plus = (date: Date, unit: 'month' | 'year', count: number): number => {
      const end = new Date(date);
      if (unit === 'month') end.setUTCMonth(end.getUTCMonth() + count);
      else end.setUTCFullYear(end.getUTCFullYear() + count);
      return end.getTime();
    };
    expect(months?.validToDate.getTime()).toBe(plus(months?.validFromDate ?? new Date(), 'month', 3));
    expect(years?.validToDate.getTime()).toBe(plus(years?.validFromDate ?? new Date(), 'year', 1));
  });

  it('honour the lifetime override for every certificate issued while it is set', async () => {
    sim.setLifetimeOverride(10);
    const [overridden] = chain(await bind(x509(7, 'DAYS')));
    sim.setLifetimeOverride(null);
    const [normal] = chain(await bind(x509(7, 'DAYS')));
    expect(lifetimeMs(overridden as X509Certificate)).toBe(10_000);
    expect(lifetimeMs(normal as X509Certificate)).toBe(7 * 86_400_000);
  });

  it('backdate notBefore by notBeforeBackdateSeconds while notAfter keeps to the lifetime', async () => {
    sim.updateSettings({ notBeforeBackdateSeconds: 3600, lifetimeOverrideSeconds: 60 });
    const before = Math.floor(Date.now() / 1000) * 1000;
    const [backdated] = chain(await bind(x509(7, 'DAYS')));
    const after = Date.now();
    sim.updateSettings({ notBeforeBackdateSeconds: 0, lifetimeOverrideSeconds: null });
    const [normal] = chain(await bind(x509(7, 'DAYS')));
    const from = backdated?.validFromDate.getTime() ?? 0;
    const to = backdated?.validToDate.getTime() ?? 0;
    expect(from + 3_600_000).toBeGreaterThanOrEqual(before);
    expect(from + 3_600_000).toBeLessThanOrEqual(after);
    expect(to - from).toBe(3_660_000);
    expect(lifetimeMs(normal as X509Certificate)).toBe(7 * 86_400_000);
  });

  it('use the requested key length', async () => {
    const binding = await bind(x509(1, 'DAYS', 4096));
    expect(createPrivateKey(binding.certificate.key).asymmetricKeyDetails?.modulusLength).toBe(4096);
  });

  it('stop working at the handshake once they expire', async () => {
    const binding = await bind(x509(2, 'SECONDS'));
    const request = async (): Promise<number | string> => {
      const agent = agentFor(sim, binding.certificate);
      try {
        return (
          await postForm(agent, `${sim.xsuaaCertUrl}/oauth/token`, {
            grant_type: 'client_credentials',
            client_id: text(binding.credentials.clientid),
          })
        ).status;
      } catch {
        return 'connection failed';
      } finally {
        await agent.close();
      }
    };
    expect(await request()).toBe(200);
    const before = sim.counters().handshakeFailures.xsuaaCert.CERT_HAS_EXPIRED ?? 0;
    const deadline = Date.now() + 20_000;
    let outcome: number | string = 200;
    while (outcome === 200 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      outcome = await request();
    }
    expect(outcome).toBe('connection failed');
    expect(sim.counters().handshakeFailures.xsuaaCert.CERT_HAS_EXPIRED).toBe(before + 1);
  });
});

describe('credential faults', () => {
  const faulty = async (defect: CredentialDefect): Promise<CreatedBinding> => {
    sim.injectFault({ kind: 'credential', defect, times: 1 });
    const binding = await bind();
    expect(sim.bindings().find((summary) => summary.id === binding.id)?.certificate?.defect).toBe(defect);
    return binding;
  };

  it('malformedPem: the certificate field is not parseable PEM', async () => {
    const binding = await faulty('malformedPem');
    expect(() => new X509Certificate(binding.certificate.cert)).toThrow();
    expect(pemBlocks(binding.certificate.cert).length).toBeLessThan(3);
  });

  it('truncatedCertificate: well-formed PEM around a cut-off DER', async () => {
    const binding = await faulty('truncatedCertificate');
    const blocks = pemBlocks(binding.certificate.cert);
    expect(blocks).toHaveLength(3);
    expect(() => new X509Certificate(blocks[0] ?? '')).toThrow();
    expect(new X509Certificate(blocks[1] ?? '').ca).toBe(true);
  });

  it('keyMismatch: the key does not belong to the certificate', async () => {
    const binding = await faulty('keyMismatch');
    const [leaf] = chain(binding);
    expect(leaf?.checkPrivateKey(createPrivateKey(binding.certificate.key))).toBe(false);
  });

  it('expired: notAfter lies in the past', async () => {
    const [leaf] = chain(await faulty('expired'));
    expect(leaf?.validToDate.getTime()).toBeLessThan(Date.now());
  });

  it('notYetValid: notBefore lies in the future', async () => {
    const [leaf] = chain(await faulty('notYetValid'));
    expect(leaf?.validFromDate.getTime()).toBeGreaterThan(Date.now());
  });

  it('chainWrongOrder: the intermediate comes first', async () => {
    const [first, second, third] = chain(await faulty('chainWrongOrder'));
    expect(first?.ca).toBe(true);
    expect(second?.ca).toBe(false);
    expect(second?.checkIssued(first as X509Certificate)).toBe(true);
    expect(third?.fingerprint256).toBe(root.fingerprint256);
  });

  it('chainWrongOrder: a client that puts the leaf first again gets a token', async () => {
    const binding = await faulty('chainWrongOrder');
    const [intermediate = '', leaf = '', top = ''] = pemBlocks(binding.certificate.cert);
    const agent = agentFor(sim, { cert: leaf + intermediate + top, key: binding.certificate.key });
    const response = await postForm(agent, `${sim.xsuaaCertUrl}/oauth/token`, {
      grant_type: 'client_credentials',
      client_id: text(binding.credentials.clientid),
    });
    await agent.close();
    expect(response.status).toBe(200);
  });

  it('chainMissingIntermediate: leaf and root only', async () => {
    const certificates = chain(await faulty('chainMissingIntermediate'));
    expect(certificates).toHaveLength(2);
    expect(certificates[0]?.checkIssued(certificates[1] as X509Certificate)).toBe(false);
  });

  it('foreignCa: the chain ends in a root that is not the simulator CA', async () => {
    const [leaf, intermediate, foreignRoot] = chain(await faulty('foreignCa'));
    expect(leaf?.checkIssued(intermediate as X509Certificate)).toBe(true);
    expect(foreignRoot?.fingerprint256).not.toBe(root.fingerprint256);
    expect(intermediate?.checkIssued(root)).toBe(false);
  });

  it('applies to the next N x509 bindings only, and not to client-secret ones', async () => {
    sim.injectFault({ kind: 'credential', defect: 'expired', times: 2 });
    const secret = await sm.call('POST', '/v1/service_bindings', {
      name: 'secret-between',
      service_instance_id: xsuaaId,
    });
    expect(record(record(secret.body).credentials)['credential-type']).toBe('binding-secret');
    const expired: boolean[] = [];
    for (let index = 0; index < 3; index += 1) {
      expired.push((chain(await bind())[0]?.validToDate.getTime() ?? 0) < Date.now());
    }
    expect(expired).toEqual([true, true, false]);
  });
});
