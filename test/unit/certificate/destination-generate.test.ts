// The generate mode's gather step (certificate/destination-generate.ts, ADR 0012) against a
// DestinationPort and a kube boundary in its Deps: the pending key is kept before the CSR goes out,
// a certificate the service already signed for it is adopted (an operator that died after the
// request), a failure keeps the current credentials, and a promoted key is cleared.
import type { V1Secret } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { BtpError } from '../../../src/btp/errors.ts';
import {
  clearAbandonedPendingKey,
  generateFromDestination,
  mayHoldAbandonedPendingKey,
  PENDING_KEY,
  pendingKeySecretName,
} from '../../../src/certificate/destination-generate.ts';
import { DestinationSessions } from '../../../src/certificate/destination-reads.ts';
import type {
  DestinationPort,
  GenerateCertificateRequest,
  StoredCertificate,
} from '../../../src/sources/destination-port.ts';
import { concat, keyPem } from '../pki/fixtures.ts';
import { certificate, h, NOW } from './policies/fixtures.ts';

const cert = certificate({
  secretName: 'tls',
  source: {
    destination: {
      credentialsSecretRef: { name: 'binding' },
      certificateName: 'app.pem',
      generate: { commonName: 'app' },
    },
  },
});
const owned = (name: string, data: Record<string, string>): V1Secret => ({
  metadata: {
    name,
    resourceVersion: '1',
    ownerReferences: [
      {
        apiVersion: 'btpcerts.io/v1alpha1',
        kind: 'BTPCertificate',
        name: 'c',
        uid: 'uid-1',
        controller: true,
      },
    ],
  },
  data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
});
const leafKey = keyPem(h.leaf.key, 'pkcs8');
const chain = concat(h.leaf, h.intermediate);
const stored = (pem: string): StoredCertificate => ({
  name: 'app.pem',
  type: 'CERTIFICATE',
  content: new TextEncoder().encode(pem),
});

function harness(secrets: Record<string, V1Secret>, port: Partial<DestinationPort>) {
  const applied: V1Secret[] = [];
  const created: GenerateCertificateRequest[] = [];
  const sessions = new DestinationSessions(
    () => {
      throw new Error('not used');
    },
    async () => {},
  );
  const deps = {
    kube: {
      getSecret: async (_ns: string, name: string) => secrets[name],
      applySecret: async (secret: V1Secret) => {
        applied.push(secret);
        return { ...secret, metadata: { ...secret.metadata, resourceVersion: '2' } };
      },
    },
    attempts: sessions.attempts,
  };
  const full: DestinationPort = {
    findDestination: async () => undefined,
    getCertificate: async () => undefined,
    createCertificate: async (request) => {
      created.push(request);
      throw new Error('not expected');
    },
    deleteCertificate: async () => {},
    close: async () => {},
    ...port,
  };
  return {
    deps,
    applied,
    created,
    run: (c = cert) => generateFromDestination(c, full, deps, NOW, 'DestinationCertificate/app.pem'),
  };
}

/** A harness whose Destination service answers every CSR with a 503; t.created counts the requests. */
function unavailable() {
  const t = harness(
    {},
    {
      createCertificate: async (request) => {
        t.created.push(request);
        throw new BtpError('BtpServerError', 'POST host/path: 503');
      },
    },
  );
  return t;
}

describe('generateFromDestination', () => {
  it('keeps a new key in the pending-key Secret before it asks, and sends only a CSR', async () => {
    let pendingAtRequest: string | undefined;
    const t = harness(
      {},
      {
        createCertificate: async (request) => {
          pendingAtRequest = t.applied[0]?.data?.[PENDING_KEY];
          t.created.push(request);
          return stored(chain);
        },
      },
    );
    const o = await t.run();
    expect(pendingAtRequest).toBeDefined();
    expect(t.applied[0]?.metadata?.name).toBe(pendingKeySecretName(cert));
    const key = Buffer.from(pendingAtRequest ?? '', 'base64').toString();
    expect(t.created[0]?.csrPem).toContain('CERTIFICATE REQUEST');
    expect(JSON.stringify(t.created)).not.toContain(key.split('\n')[1]);
    // The service here signed another key: the readiness chain will say KeyMismatch; the key offered is the pending one.
    expect(o).toMatchObject({ ok: true, credentials: { key } });
  });

  it('adopts the certificate the service already signed for the pending key: no second request', async () => {
    const t = harness(
      { [pendingKeySecretName(cert)]: owned(pendingKeySecretName(cert), { [PENDING_KEY]: leafKey }) },
      { getCertificate: async () => stored(chain) },
    );
    const o = await t.run();
    expect(t.created).toHaveLength(0);
    expect(o).toMatchObject({ ok: true, credentials: { key: leafKey } });
    // The revision is the one the written credentials are served with after: status is not written twice.
    const served = await harness({ tls: owned('tls', { 'tls.key': leafKey, 'tls.crt': chain }) }, {}).run();
    expect(o.ok).toBe(true);
    expect(served.ok).toBe(true);
    expect(o.ok && o.revision).toBe(served.ok && served.revision);
  });

  it('clears the pending key once the TLS Secret holds it', async () => {
    const t = harness(
      {
        tls: owned('tls', { 'tls.key': leafKey, 'tls.crt': chain }),
        [pendingKeySecretName(cert)]: owned(pendingKeySecretName(cert), { [PENDING_KEY]: leafKey }),
      },
      {},
    );
    const o = await t.run();
    expect(t.applied).toHaveLength(1);
    expect(t.applied[0]?.data).toEqual({});
    expect(o).toMatchObject({ ok: true, renewal: { kind: 'destination-generate' } });
    expect(t.created).toHaveLength(0);
  });

  it('a pending key left when generate is removed is cleared; nothing is written when there is none', async () => {
    const stored = {
      ...cert,
      spec: {
        ...cert.spec,
        source: { destination: { credentialsSecretRef: { name: 'binding' }, certificateName: 'app.pem' } },
      },
    };
    expect(mayHoldAbandonedPendingKey(stored)).toBe(false);
    const after = { ...stored, status: { source: 'DestinationCertificate/app.pem' } };
    expect(mayHoldAbandonedPendingKey(after)).toBe(true);
    expect(mayHoldAbandonedPendingKey({ ...after, spec: cert.spec })).toBe(false);
    const t = harness(
      { [pendingKeySecretName(cert)]: owned(pendingKeySecretName(cert), { [PENDING_KEY]: leafKey }) },
      {},
    );
    await clearAbandonedPendingKey(after, t.deps.kube);
    expect(t.applied.map((s) => s.data)).toEqual([{}]);
    const none = harness({}, {});
    await clearAbandonedPendingKey(after, none.deps.kube);
    expect(none.applied).toHaveLength(0);
  });

  it('a signed file that does not decode is InvalidKeystore, not a certificate failure later', async () => {
    const t = harness(
      {},
      {
        createCertificate: async (request) => {
          t.created.push(request);
          return {
            name: 'app.pem',
            type: 'CERTIFICATE',
            content: new TextEncoder().encode('not a keystore'),
          };
        },
      },
    );
    expect(await t.run()).toMatchObject({ ok: false, reason: 'InvalidKeystore', recheckAfterMs: 30_000 });
    expect(t.created).toHaveLength(1);
  });

  it('a failed request without current credentials is the failure, looked at again', async () => {
    const t = unavailable();
    expect(await t.run()).toMatchObject({
      ok: false,
      reason: 'DestinationServiceError',
      recheckAfterMs: 30_000,
    });
    // Within the retry time nothing is asked again.
    const again = await t.run();
    expect(again).toMatchObject({ ok: false, reason: 'DestinationServiceError' });
    expect(t.created).toHaveLength(1);
  });

  it('a failed request of a deleted BTPCertificate does not hold back one created again under its name', async () => {
    const t = unavailable();
    await t.run();
    const recreated = { ...cert, metadata: { ...cert.metadata, uid: 'uid-2' } };
    expect(await t.run(recreated)).toMatchObject({ ok: false, reason: 'DestinationServiceError' });
    expect(t.created).toHaveLength(2);
  });

  it('a failed renewal keeps the current credentials and says why in the renewal', async () => {
    const due = { ...cert, spec: { ...cert.spec, renewBeforePercentage: 99 } };
    const t = harness(
      { tls: owned('tls', { 'tls.key': leafKey, 'tls.crt': chain }) },
      {
        createCertificate: async () => {
          throw new BtpError('BtpRateLimited', 'POST host/path: 429', { retryAfterMs: 120_000 });
        },
      },
    );
    const port = {
      findDestination: async () => undefined,
      getCertificate: async () => undefined,
      createCertificate: async () => {
        throw new BtpError('BtpRateLimited', 'POST host/path: 429', { retryAfterMs: 120_000 });
      },
      deleteCertificate: async () => {},
      close: async () => {},
    };
    const o = await generateFromDestination(due, port, t.deps, NOW, 'DestinationCertificate/app.pem');
    expect(o).toMatchObject({
      ok: true,
      credentials: { key: leafKey, certificate: chain },
      renewal: { kind: 'destination-generate', failure: { reason: 'DestinationServiceError' } },
    });
    if (o.ok && o.renewal.kind === 'destination-generate')
      expect(o.renewal.failure?.retryAt.getTime()).toBeGreaterThanOrEqual(NOW.getTime() + 120_000);
  });
});
