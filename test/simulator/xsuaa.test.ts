import { createPrivateKey, X509Certificate } from 'node:crypto';
import { connect } from 'node:tls';
import type { Agent } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../support/btp-simulator/clock.ts';
import { requestCount } from '../support/btp-simulator/counters.ts';
import { type Simulator, startSimulator } from '../support/btp-simulator/simulator.ts';
import {
  agentFor,
  type CreatedBinding,
  createX509Binding,
  errorCodes,
  getJson,
  postForm,
  record,
  recordingAgent,
  type SmClient,
  smClient,
  text,
} from './helpers.ts';

let sim: Simulator;
let sm: SmClient;
let binding: CreatedBinding;

beforeAll(async () => {
  sim = await startSimulator();
  sm = await smClient(sim);
  binding = await createX509Binding(sm, sim.instance('xsuaa-application').id, 'xsuaa-test');
});

afterAll(async () => {
  await sm.close();
  await sim.stop();
});

const clientCredentials = (clientId: string) => ({ grant_type: 'client_credentials', client_id: clientId });

/** What a raw TLS client sees when it connects to `port` and sends one request. */
function tlsOutcome(port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port, ca: sim.caBundlePem });
    socket.on('secureConnect', () =>
      socket.write('POST /oauth/token HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n'),
    );
    socket.on('data', (data) => resolve(`http:${data.toString('utf8').split('\r\n')[0]}`));
    socket.on('error', (error: Error & { code?: string }) => resolve(error.code ?? error.message));
  });
}

describe('XSUAA url (server TLS only)', () => {
  it('publishes the mTLS token endpoint alias in its OpenID configuration', async () => {
    const agent = agentFor(sim);
    const response = await getJson(agent, `${sim.xsuaaUrl}/.well-known/openid-configuration`);
    await agent.close();
    expect(response.status).toBe(200);
    const body = record(response.body);
    expect(body.token_endpoint).toBe(`${sim.xsuaaUrl}/oauth/token`);
    expect(record(body.mtls_endpoint_aliases).token_endpoint).toBe(`${sim.xsuaaCertUrl}/oauth/token`);
  });

  it('issues a bearer token for client id + secret, in the form body or as HTTP Basic', async () => {
    const agent = agentFor(sim);
    const { clientid, clientsecret } = sim.smCredentials.secret;
    const viaForm = await postForm(agent, `${sim.xsuaaUrl}/oauth/token`, {
      ...clientCredentials(clientid),
      client_secret: clientsecret,
    });
    const basic = Buffer.from(`${encodeURIComponent(clientid)}:${encodeURIComponent(clientsecret)}`).toString(
      'base64',
    );
    const viaBasic = await postForm(
      agent,
      `${sim.xsuaaUrl}/oauth/token`,
      { grant_type: 'client_credentials' },
      { authorization: `Basic ${basic}` },
    );
    await agent.close();
    for (const response of [viaForm, viaBasic]) {
      expect(response.status).toBe(200);
      const body = record(response.body);
      expect(body).toMatchObject({ token_type: 'bearer', expires_in: 43199 });
      expect(text(body.access_token).split('.')).toHaveLength(3);
      expect(typeof body.jti).toBe('string');
      expect(typeof body.scope).toBe('string');
    }
  });

  it('answers a wrong secret with 401 invalid_client "Bad credentials"', async () => {
    const agent = agentFor(sim);
    const response = await postForm(agent, `${sim.xsuaaUrl}/oauth/token`, {
      ...clientCredentials(sim.smCredentials.secret.clientid),
      client_secret: 'wrong',
    });
    await agent.close();
    expect(response.status).toBe(401);
    expect(response.body).toEqual({ error: 'invalid_client', error_description: 'Bad credentials' });
  });

  it('answers x509 credentials sent to the plain url with 401 "Unsupported instance credential ..."', async () => {
    const agent = agentFor(sim, binding.certificate);
    const response = await postForm(
      agent,
      `${text(binding.credentials.url)}/oauth/token`,
      clientCredentials(text(binding.credentials.clientid)),
    );
    await agent.close();
    expect(response.status).toBe(401);
    const body = record(response.body);
    expect(body.error).toBe('unauthorized');
    expect(text(body.error_description)).toMatch(/^Unsupported instance credential/);
  });
});

describe('XSUAA certurl (mutual TLS)', () => {
  it('issues a certificate-bound token to the binding that owns the certificate', async () => {
    const agent = agentFor(sim, binding.certificate);
    const response = await postForm(
      agent,
      `${text(binding.credentials.certurl)}/oauth/token`,
      clientCredentials(text(binding.credentials.clientid)),
    );
    await agent.close();
    expect(response.status).toBe(200);
    const body = record(response.body);
    expect(body).toMatchObject({ token_type: 'bearer', expires_in: 43199 });
    const [, payload = ''] = text(body.access_token).split('.');
    const claims = record(JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')));
    expect(claims.client_id).toBe(binding.credentials.clientid);
    expect(record(claims.cnf)['x5t#S256']).toBeTypeOf('string');
  });

  it('fails the TLS handshake when no client certificate is presented: a TLS alert, no HTTP status', async () => {
    const before = sim.counters().handshakeFailures.xsuaaCert.ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE ?? 0;
    const { agent, socketErrors } = recordingAgent(sim.caBundlePem);
    const outcome = await postForm(
      agent,
      `${sim.xsuaaCertUrl}/oauth/token`,
      clientCredentials('anyone'),
    ).then(
      (response) => response.status,
      (error: unknown) => error,
    );
    await agent.close();
    expect(typeof outcome).not.toBe('number');
    expect(errorCodes(outcome)).toContain('UND_ERR_SOCKET');
    expect(socketErrors.flatMap(errorCodes)).toContain('ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED');
    expect(await tlsOutcome(Number(new URL(sim.xsuaaCertUrl).port))).toBe(
      'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED',
    );
    expect(sim.counters().handshakeFailures.xsuaaCert.ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE).toBe(
      before + 2,
    );
  });

  it('fails the TLS handshake for a certificate from another CA', async () => {
    sim.injectFault({ kind: 'credential', defect: 'foreignCa', times: 1 });
    const foreign = await createX509Binding(sm, sim.instance('xsuaa-application').id, 'foreign-ca');
    const before = sim.counters();
    const { agent } = recordingAgent(sim.caBundlePem, foreign.certificate);
    const outcome = await postForm(
      agent,
      `${sim.xsuaaCertUrl}/oauth/token`,
      clientCredentials(text(foreign.credentials.clientid)),
    ).then(
      (response) => response.status,
      (error: unknown) => error,
    );
    await agent.close();
    // Node checks a presented chain right after the handshake and closes the connection:
    // no HTTP exchange happens, the server records why.
    expect(typeof outcome).not.toBe('number');
    expect(errorCodes(outcome)).toContain('UND_ERR_SOCKET');
    const after = sim.counters();
    expect(after.handshakes.xsuaaCert).toBe(before.handshakes.xsuaaCert);
    expect(after.handshakeFailures.xsuaaCert.SELF_SIGNED_CERT_IN_CHAIN).toBe(
      (before.handshakeFailures.xsuaaCert.SELF_SIGNED_CERT_IN_CHAIN ?? 0) + 1,
    );
    expect(requestCount(after, 'xsuaa.certToken')).toBe(requestCount(before, 'xsuaa.certToken'));
  });

  it("rejects a deleted binding's certificate with 401 invalid_client", async () => {
    const doomed = await createX509Binding(sm, sim.instance('xsuaa-application').id, 'to-delete');
    const agent = agentFor(sim, doomed.certificate);
    const tokenRequest = () =>
      postForm(
        agent,
        `${sim.xsuaaCertUrl}/oauth/token`,
        clientCredentials(text(doomed.credentials.clientid)),
      );
    expect((await tokenRequest()).status).toBe(200);
    expect((await sm.call('DELETE', `/v1/service_bindings/${doomed.id}`)).status).toBe(200);
    const after = await tokenRequest();
    await agent.close();
    expect(after.status).toBe(401);
    expect(after.body).toEqual({ error: 'invalid_client', error_description: 'Bad credentials' });
  });

  it("rejects a certificate presented with another client's id", async () => {
    const agent = agentFor(sim, binding.certificate);
    const response = await postForm(
      agent,
      `${sim.xsuaaCertUrl}/oauth/token`,
      clientCredentials(sim.smCredentials.x509.clientid),
    );
    await agent.close();
    expect(response.status).toBe(401);
    expect(record(response.body).error).toBe('invalid_client');
  });

  it('counts one TLS handshake per connection, so connection reuse is visible', async () => {
    const before = sim.counters().handshakes.xsuaaCert;
    const agent = agentFor(sim, binding.certificate, { connections: 1 });
    for (let attempt = 0; attempt < 3; attempt += 1) {
      const response = await postForm(
        agent,
        `${sim.xsuaaCertUrl}/oauth/token`,
        clientCredentials(text(binding.credentials.clientid)),
      );
      expect(response.status).toBe(200);
    }
    await agent.close();
    expect(sim.counters().handshakes.xsuaaCert).toBe(before + 1);
  });

  it('accepts the x509 SM access credentials, whose certificate matches their key', async () => {
    const { certificate, key, certurl, clientid } = sim.smCredentials.x509;
    const agent = agentFor(sim, { cert: certificate, key });
    const response = await postForm(agent, `${certurl}/oauth/token`, clientCredentials(clientid));
    await agent.close();
    expect(response.status).toBe(200);
    expect(new X509Certificate(certificate).checkPrivateKey(createPrivateKey(key))).toBe(true);
  });
});

describe('token endpoint limits and lifetimes', () => {
  // A clock that only moves when told to, so the sliding window is deterministic.
  let frozenAt = Date.now();
  const clock = { now: () => frozenAt, sleep: systemClock.sleep };
  let limited: Simulator;
  beforeAll(async () => {
    limited = await startSimulator({
      clock,
      tokenRateLimitPerSecond: 3,
      tokenExpiresInSeconds: 120,
      keyPool: { size: 0 },
    });
  });
  afterAll(async () => {
    await limited.stop();
  });

  const secretTokenRequest = (agent: Agent) => {
    const { clientid, clientsecret, url } = limited.smCredentials.secret;
    return postForm(agent, `${url}/oauth/token`, {
      ...clientCredentials(clientid),
      client_secret: clientsecret,
    });
  };

  it('uses the configured expires_in', async () => {
    frozenAt += 1000;
    const agent = agentFor(limited);
    const response = await secretTokenRequest(agent);
    await agent.close();
    expect(record(response.body).expires_in).toBe(120);
  });

  it('answers beyond the per-second limit with 429 and Retry-After, and recovers a second later', async () => {
    frozenAt += 1000;
    const agent = agentFor(limited);
    const statuses: number[] = [];
    let retryAfter: unknown;
    for (let attempt = 0; attempt < 4; attempt += 1) {
      const response = await secretTokenRequest(agent);
      statuses.push(response.status);
      if (response.status === 429) retryAfter = response.headers['retry-after'];
    }
    frozenAt += 1000;
    statuses.push((await secretTokenRequest(agent)).status);
    await agent.close();
    expect(statuses).toEqual([200, 200, 200, 429, 200]);
    expect(retryAfter).toBe('1');
  });

  it('lets every request through when the limit is switched off', async () => {
    const unlimited = await startSimulator({ tokenRateLimitPerSecond: null, keyPool: { size: 0 } });
    const agent = agentFor(unlimited);
    const { clientid, clientsecret, url } = unlimited.smCredentials.secret;
    const statuses: number[] = [];
    for (let attempt = 0; attempt < 70; attempt += 1) {
      const response = await postForm(agent, `${url}/oauth/token`, {
        ...clientCredentials(clientid),
        client_secret: clientsecret,
      });
      statuses.push(response.status);
    }
    await agent.close();
    await unlimited.stop();
    expect(new Set(statuses)).toEqual(new Set([200]));
  });
});
