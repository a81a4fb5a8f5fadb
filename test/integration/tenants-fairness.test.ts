// One namespace's slow endpoints do not hold back another namespace (issue 10, point 5). The
// workers run network I/O inline: a token check waits for its endpoint up to --token-check-timeout.
// An attacker namespace points the token check of many certificates at a tarpit (a server on
// loopback that accepts connections and never answers, so every check lasts the whole timeout).
// With the workers handed out in due order only, the attacker's checks, due again and again, kept
// every worker and the victim's keys waited behind them without end. Now a free worker goes to the
// namespace with due keys and the fewest runs: the victim's certificate becomes Ready and a renewal
// it asks for completes while the attack runs.
import { createServer, type Socket } from 'node:net';
import { CoreV1Api } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type Simulator, startSimulator } from '../support/btp-simulator/simulator.ts';
import { kymaSecretData } from '../support/btp-simulator/sm-credentials.ts';
import { Certificates } from '../support/btpcert.ts';
import { bindingCredentials } from '../support/credentials.ts';
import { kubeConfigFromFile, testNamespace, waitFor } from '../support/kube.ts';
import { type RunningOperator, startOperator } from '../support/operator.ts';
import { WriteRecorder } from '../support/writes.ts';

const kc = kubeConfigFromFile(inject('kubeconfig'));
const core = kc.makeApiClient(CoreV1Api);
const attacker = testNamespace(kc, 'fair-attacker');
const victim = testNamespace(kc, 'fair-victim');
/** Certificates of the attacker: their checks, due again after each backoff, exceed what 4 workers can run. */
const ATTACKERS = 80;
/** Every check of the attacker lasts this long. */
const CHECK_TIMEOUT_MS = 5_000;
/** Generous; in due order the victim waited behind the attacker's checks without end. */
const VICTIM_DEADLINE_MS = 180_000;

let sim: Simulator;
let operator: RunningOperator;
let recorder: WriteRecorder;
const tarpit = { connections: 0, sockets: new Set<Socket>(), port: 0 };
const server = createServer((socket) => {
  // Accepts, reads nothing, answers nothing: the TLS handshake never completes.
  tarpit.connections += 1;
  tarpit.sockets.add(socket);
  socket.on('close', () => tarpit.sockets.delete(socket));
  socket.on('error', () => {});
});

beforeAll(async () => {
  sim = await startSimulator({ keyPool: { size: 8 } });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('tarpit has no port');
  tarpit.port = address.port;
  operator = startOperator(kc, {
    namespaces: [attacker, victim],
    btpCaPem: sim.caBundlePem,
    tokenCheckTimeoutMs: CHECK_TIMEOUT_MS,
  });
  recorder = new WriteRecorder(kc, attacker);
  await recorder.start();
});
afterAll(async () => {
  recorder?.stop();
  await operator?.stop();
  for (const socket of tarpit.sockets) socket.destroy();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await sim?.stop();
});

describe('a namespace whose token checks hang', () => {
  it("does not hold back another namespace's certificate nor its renewal", async () => {
    const attackers = new Certificates(kc, attacker);
    const { fields } = bindingCredentials();
    await core.createNamespacedSecret({
      namespace: attacker,
      body: { metadata: { name: 'src' }, stringData: fields },
    });
    for (let i = 0; i < ATTACKERS; i += 20)
      await Promise.all(
        Array.from({ length: 20 }, (_, j) =>
          attackers.create(`tarpit-${i + j}`, {
            secretName: `tarpit-${i + j}-tls`,
            source: { secret: { name: 'src' } },
            token: { url: `https://127.0.0.1:${tarpit.port}`, checkInterval: '1m' },
          }),
        ),
      );
    // The attack is under way: the checks have filled the workers.
    await waitFor(() => tarpit.connections >= 4, {
      timeoutMs: 60_000,
      description: 'checks stuck in the tarpit',
    });

    const victims = new Certificates(kc, victim);
    await core.createNamespacedSecret({
      namespace: victim,
      body: { metadata: { name: 'sm-access' }, stringData: kymaSecretData(sim.smCredentials.x509) },
    });
    await victims.create('app', {
      secretName: 'app-tls',
      source: {
        serviceManager: {
          credentialsSecretRef: { name: 'sm-access' },
          serviceInstanceName: 'xsuaa-application',
          x509: { validity: 1 },
        },
      },
    });
    const ready = await victims.waitForCondition('app', 'Ready', { status: 'True' }, VICTIM_DEADLINE_MS);
    expect(ready.status?.conditions?.find((c) => c.type === 'TokenReady')?.status).toBe('True');
    expect(ready.status?.binding?.revision).toBe(1);

    const request = '2026-11-29T00:00:00Z';
    await victims.annotate('app', { 'btpcerts.io/renew-requested-at': request });
    const renewed = await waitFor(
      async () => {
        const cert = await victims.get('app');
        return cert.status?.lastRenewRequest === request ? cert : undefined;
      },
      { timeoutMs: VICTIM_DEADLINE_MS, description: 'the requested renewal done' },
    );
    expect(renewed.status?.binding?.revision).toBe(2);
    expect(renewed.status?.conditions?.find((c) => c.type === 'Ready')?.status).toBe('True');

    // The attack ran all along: its checks kept arriving, and each failed as a Timeout.
    const seen = tarpit.connections;
    await waitFor(() => tarpit.connections > seen, {
      timeoutMs: 60_000,
      description: 'further tarpit checks',
    });
    const stuck = await attackers.waitForCondition('tarpit-0', 'TokenReady', {
      status: 'False',
      reason: 'Timeout',
    });
    expect(stuck.status?.token?.failedChecks).toBeGreaterThanOrEqual(1);
    // A failing check is backed off (10 s, 20 s, ... and at most the 1m interval apart), each after
    // the check's 5 s: no certificate of the attacker had its status written anywhere near once a second.
    const windowS = (Date.now() - (recorder.certificates[0]?.atMs ?? Date.now())) / 1000;
    const most = Math.max(
      ...Array.from({ length: ATTACKERS }, (_, i) => recorder.certificateWrites(`tarpit-${i}`).length),
    );
    console.log(
      `attack window ${windowS.toFixed(0)} s; tarpit connections ${tarpit.connections}; most status writes of one attacker certificate ${most}`,
    );
    expect(most).toBeLessThan(5 + windowS / 10);
  }, 600_000);
});
