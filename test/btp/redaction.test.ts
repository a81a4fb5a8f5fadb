// Every error path of the catalogue, provoked for real against the simulator: the error has the
// expected code and shows no token, client secret, key or certificate in its message, stack,
// JSON, inspect output (cause chain included) or a pino log line. The table is keyed by the
// catalogue, so a new code cannot be added without a row here.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { BTP_ERROR_CODES, BtpError, type BtpErrorCode } from '../../src/btp/errors.ts';
import { BtpHttp } from '../../src/btp/http.ts';
import { MAX_LIST_PAGES } from '../../src/btp/limits.ts';
import { equalsQuery } from '../../src/btp/query.ts';
import { ServiceManagerClient, type SmCredential } from '../../src/btp/service-manager.ts';
import { TokenCache } from '../../src/btp/token-cache.ts';
import { TokenClient } from '../../src/btp/token-client.ts';
import { systemClock } from '../../src/runtime/clock.ts';
import { loopbackHosts } from '../support/allowed-hosts.ts';
import { type Simulator, startSimulator } from '../support/btp-simulator/simulator.ts';
import {
  closedPort,
  expectNoSecrets,
  FAST_POLLING,
  FAST_RETRY,
  httpFor,
  rejection,
  secretCredential,
  smSecretCredential,
  x509Credential,
} from './helpers.ts';

let sim: Simulator;
let http: BtpHttp;
let tokens: TokenCache;
let client: TokenClient;
let sm: ServiceManagerClient;
let instanceId: string;
/** Every credential, key, certificate and token the tests handle. */
const secrets: string[] = [];

function smClient(
  credential: SmCredential,
  credentialId: string,
  httpClient: BtpHttp = http,
): ServiceManagerClient {
  return new ServiceManagerClient(credential, {
    http: httpClient,
    tokens,
    clock: systemClock,
    retry: FAST_RETRY,
    polling: FAST_POLLING,
    credentialId,
  });
}

beforeAll(async () => {
  sim = await startSimulator({ keyPool: { size: 3 } });
  http = httpFor(sim);
  client = new TokenClient({ http, clock: systemClock, retry: FAST_RETRY });
  tokens = new TokenCache({ client, clock: systemClock });
  sm = smClient(smSecretCredential(sim), 'sm');
  instanceId = sim.instance('xsuaa-application').id;
  const { clientsecret } = sim.smCredentials.secret;
  const { certificate, key } = sim.smCredentials.x509;
  secrets.push(clientsecret, certificate, key);
  secrets.push((await tokens.get(secretCredential(sim))).accessToken.reveal());
});

afterAll(async () => {
  await http.closeAll();
  await sim.stop();
});

afterEach(() => {
  sim.clearFaults();
});

/** A binding whose credentials join the secrets to look for. */
async function binding(name: string, parameters?: Record<string, unknown>) {
  const created = await sm.createBinding({
    name,
    serviceInstanceId: instanceId,
    ...(parameters === undefined ? {} : { parameters }),
  });
  for (const field of ['clientsecret', 'certificate', 'key']) {
    const value = created.credentials[field];
    if (typeof value === 'string') secrets.push(value);
  }
  return created;
}

const X509 = {
  'credential-type': 'x509',
  x509: { 'key-length': 2048, validity: 1, 'validity-type': 'DAYS' },
};

const PROVOKE = {
  BtpUnreachable: async () => {
    const port = await closedPort();
    return client.fetchToken({ ...secretCredential(sim), tokenUrl: `https://127.0.0.1:${port}/oauth/token` });
  },
  BtpHostNotAllowed: async () => {
    // The secret in the userinfo, the path and the query of a URL outside the list.
    const secret = encodeURIComponent(sim.smCredentials.secret.clientsecret);
    return client.fetchToken({
      ...secretCredential(sim),
      tokenUrl: `https://u:${secret}@evil.example:8443/${secret}/oauth/token?s=${secret}`,
    });
  },
  BtpTimeout: async () => {
    sim.injectFault({ kind: 'latency', route: 'sm.getInstance', ms: 500 });
    const slow = httpFor(sim, { requestTimeoutMs: 80 });
    try {
      return await smClient(smSecretCredential(sim), 'slow', slow).getInstance(instanceId);
    } finally {
      await slow.closeAll();
    }
  },
  BtpTLSHandshakeFailed: async () =>
    client.fetchToken({ ...secretCredential(sim), tokenUrl: `${sim.xsuaaCertUrl}/oauth/token` }),
  BtpServerCertificateUntrusted: async () => {
    const untrusting = new BtpHttp({ clock: systemClock, allowedHosts: loopbackHosts });
    try {
      return await new TokenClient({ http: untrusting, clock: systemClock }).fetchToken(
        secretCredential(sim),
      );
    } finally {
      await untrusting.closeAll();
    }
  },
  BtpInvalidClientCredential: async () => {
    const other = await binding('other-key', X509);
    return client.fetchToken({ ...x509Credential(sim), key: String(other.credentials.key) });
  },
  BtpRateLimited: async () => {
    sim.injectFault({
      kind: 'status',
      route: 'xsuaa.certToken',
      status: 429,
      times: 1,
      retryAfter: { form: 'go-time', seconds: 600 },
    });
    return client.fetchToken(x509Credential(sim));
  },
  BtpServerError: async () => {
    sim.injectFault({ kind: 'status', route: 'sm.listBindings', status: 503, times: 10 });
    return sm.listBindings();
  },
  BtpUnauthorized: async () => {
    const wrong = 'wrong-secret-that-must-not-leak';
    secrets.push(wrong);
    return client.fetchToken({ ...secretCredential(sim), clientSecret: wrong, secretIn: 'basic' });
  },
  BtpForbidden: async () => {
    const stranger = await binding('stranger');
    const { url, clientid, clientsecret } = stranger.credentials;
    return smClient(
      {
        smUrl: sim.smUrl,
        tokenUrl: `${String(url)}/oauth/token`,
        clientId: String(clientid),
        clientSecret: String(clientsecret),
      },
      'stranger',
    ).getInstance(instanceId);
  },
  BtpUnsupportedCredential: async () =>
    client.fetchToken({ ...x509Credential(sim), tokenUrl: `${sim.xsuaaUrl}/oauth/token` }),
  BtpBadRequest: async () => sm.createBinding({ name: 'bad', serviceInstanceId: 'no-such-instance' }),
  BtpNotFound: async () => sm.updateLabels('no-such-binding', [{ op: 'remove', key: 'k' }]),
  BtpConflict: async () => {
    await binding('twice');
    return sm.createBinding({ name: 'twice', serviceInstanceId: instanceId });
  },
  BtpConcurrentOperation: async () => {
    const busy = await binding('busy');
    sim.injectFault({ kind: 'stuckOperation', route: 'sm.deleteBinding', times: 1 });
    await rejection(sm.deleteBinding(busy.id, { deadlineMs: 100 }));
    return sm.deleteBinding(busy.id);
  },
  BtpOperationFailed: async () => {
    sim.injectFault({ kind: 'failOperation', route: 'sm.createBinding', times: 1 });
    return sm.createBinding({ name: 'fails', serviceInstanceId: instanceId, parameters: X509 });
  },
  BtpOperationTimeout: async () => {
    sim.injectFault({ kind: 'stuckOperation', route: 'sm.createBinding', times: 1 });
    return sm.createBinding({ name: 'stuck', serviceInstanceId: instanceId }, { deadlineMs: 150 });
  },
  BtpResponseTooLarge: async () => {
    // One binding a page: a list of more pages than the client reads.
    const many = sim.addInstance({ name: 'many-pages', offering: 'auditlog' });
    for (let index = 0; index <= MAX_LIST_PAGES; index += 1)
      await sm.createBinding({ name: `page-${index}`, serviceInstanceId: many.id });
    const paged = new ServiceManagerClient(smSecretCredential(sim), {
      http,
      tokens,
      clock: systemClock,
      retry: FAST_RETRY,
      pageSize: 1,
      credentialId: 'paged',
    });
    return paged.listBindings({ fieldQuery: equalsQuery({ service_instance_id: many.id }) });
  },
  BtpUnexpectedResponse: async () => {
    sim.injectFault({ kind: 'status', route: 'sm.getBinding', status: 418, times: 1 });
    return sm.getBinding('whatever');
  },
} satisfies Record<BtpErrorCode, () => Promise<unknown>>;

describe('no error path shows a secret', () => {
  it('has a row for every code of the catalogue', () => {
    expect(Object.keys(PROVOKE).sort()).toEqual([...BTP_ERROR_CODES].sort());
  });

  it.each(BTP_ERROR_CODES.map((code) => [code]))('%s', async (code) => {
    const error = await rejection(PROVOKE[code]());
    expect(error).toBeInstanceOf(BtpError);
    expect((error as BtpError).code).toBe(code);
    expectNoSecrets(error, secrets);
  });
});
