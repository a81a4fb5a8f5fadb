// The HTTP module's pools against the simulator: one TLS connection per credential and origin,
// reused; closing a credential's pools; counters per operation and outcome.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { BtpHttp } from '../../src/btp/http.ts';
import { TokenClient } from '../../src/btp/token-client.ts';
import { systemClock } from '../../src/runtime/clock.ts';
import { type Simulator, startSimulator } from '../support/btp-simulator/simulator.ts';
import { FAST_RETRY, httpFor, secretCredential, x509Credential } from './helpers.ts';

let sim: Simulator;
let http: BtpHttp;
let client: TokenClient;

beforeAll(async () => {
  sim = await startSimulator({ keyPool: { size: 0 }, tokenRateLimitPerSecond: null });
});

afterAll(async () => {
  await sim.stop();
});

beforeEach(() => {
  http = httpFor(sim);
  client = new TokenClient({ http, clock: systemClock, retry: FAST_RETRY });
});

afterEach(async () => {
  await http.closeAll();
});

describe('connection reuse', () => {
  it('opens one TLS connection for many token requests of one credential', async () => {
    const before = sim.counters().handshakes;
    for (let request = 0; request < 10; request += 1) {
      await client.fetchToken(x509Credential(sim), { credentialId: 'a' });
      await client.fetchToken(secretCredential(sim), { credentialId: 'a' });
    }
    const after = sim.counters().handshakes;
    expect(after.xsuaaCert - before.xsuaaCert).toBe(1);
    expect(after.xsuaa - before.xsuaa).toBe(1);
    expect(http.counts()['xsuaa.token']).toEqual({ 200: 20 });
  });

  it('keeps credentials apart: another credential gets its own connection', async () => {
    const before = sim.counters().handshakes.xsuaa;
    await client.fetchToken(secretCredential(sim), { credentialId: 'a' });
    await client.fetchToken(secretCredential(sim), { credentialId: 'b' });
    await client.fetchToken(secretCredential(sim), { credentialId: 'a' });
    expect(sim.counters().handshakes.xsuaa - before).toBe(2);
    expect(http.poolCount).toBe(2);
  });

  it("closes a credential's pools, and only those; the next request connects anew", async () => {
    await client.fetchToken(secretCredential(sim), { credentialId: 'a' });
    await client.fetchToken(x509Credential(sim), { credentialId: 'a' });
    await client.fetchToken(secretCredential(sim), { credentialId: 'b' });
    expect(http.poolCount).toBe(3);
    await http.close('a');
    expect(http.poolCount).toBe(1);
    const before = sim.counters().handshakes.xsuaa;
    await client.fetchToken(secretCredential(sim), { credentialId: 'b' });
    expect(sim.counters().handshakes.xsuaa - before).toBe(0);
    await client.fetchToken(secretCredential(sim), { credentialId: 'a' });
    expect(sim.counters().handshakes.xsuaa - before).toBe(1);
    await http.closeAll();
    expect(http.poolCount).toBe(0);
  });
});
