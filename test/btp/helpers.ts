// Helpers for the BTP client tests: real clients against the BTP simulator over real TLS, short
// timeouts and backoffs so that failure paths finish fast, and a check that an error carries no
// secret in any of the forms it could be written out in.
import { createServer } from 'node:net';
import { inspect } from 'node:util';
import { pino } from 'pino';
import { expect, vi } from 'vitest';
import { BtpHttp, type BtpHttpOptions } from '../../src/btp/http.ts';
import type { RetryPolicy } from '../../src/btp/retry.ts';
import type { SmCredential } from '../../src/btp/service-manager.ts';
import { TokenCache } from '../../src/btp/token-cache.ts';
import {
  type SecretTokenCredential,
  TokenClient,
  type X509TokenCredential,
} from '../../src/btp/token-client.ts';
import { type Clock, systemClock } from '../../src/runtime/clock.ts';
import { loopbackHosts } from '../support/allowed-hosts.ts';
import { type Simulator, startSimulator } from '../support/btp-simulator/simulator.ts';
import { FakeClock } from '../support/fake-clock.ts';

/** Retries that finish in well under a second. */
export const FAST_RETRY: RetryPolicy = {
  maxAttempts: 4,
  deadlineMs: 15_000,
  backoff: { baseMs: 20, maxMs: 100, jitter: 0.2 },
  maxRetryAfterMs: 5_000,
};

export const FAST_POLLING = {
  backoff: { baseMs: 10, maxMs: 40, jitter: 0.2 },
  deadlineMs: 10_000,
};

export function httpFor(sim: Simulator, options: Partial<BtpHttpOptions> = {}): BtpHttp {
  return new BtpHttp({
    clock: systemClock,
    allowedHosts: loopbackHosts,
    caPem: sim.caBundlePem,
    connectTimeoutMs: 2_000,
    requestTimeoutMs: 5_000,
    handshakeProbeMs: 300,
    ...options,
  });
}

export function secretCredential(sim: Simulator): SecretTokenCredential {
  const { url, clientid, clientsecret } = sim.smCredentials.secret;
  return { tokenUrl: `${url}/oauth/token`, clientId: clientid, clientSecret: clientsecret };
}

export function x509Credential(sim: Simulator): X509TokenCredential {
  const { certurl, clientid, certificate, key } = sim.smCredentials.x509;
  return { tokenUrl: `${certurl}/oauth/token`, clientId: clientid, certificate, key };
}

export function smSecretCredential(sim: Simulator): SmCredential {
  return { smUrl: sim.smCredentials.secret.sm_url, ...secretCredential(sim) };
}

export function smX509Credential(sim: Simulator): SmCredential {
  return { smUrl: sim.smCredentials.x509.sm_url, ...x509Credential(sim) };
}

/** The simulator's clock shape, driven by one of ours (e.g. a FakeClock). */
export function simulatorClock(clock: Clock): { now(): number; sleep(ms: number): Promise<void> } {
  return {
    now: () => clock.nowMs(),
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  };
}

/** A loopback port nobody listens on (bound once, then released). */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Pieces of a PEM text long enough to be recognisable: its base64 lines. */
function pemFragments(pem: string): string[] {
  return pem
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line.length >= 40 && !line.startsWith('-----'));
}

/**
 * Asserts that `error` shows none of `secrets` (raw strings or PEM texts) in any written form:
 * message, stack, String(), JSON, util.inspect with the whole cause chain, and a pino log line.
 */
export function expectNoSecrets(error: unknown, secrets: readonly string[]): void {
  const lines: string[] = [];
  const logger = pino(
    { level: 'info' },
    {
      write: (line: string) => {
        lines.push(line);
      },
    },
  );
  logger.error({ err: error }, 'failed');
  const renderings = [
    String(error),
    error instanceof Error ? (error.stack ?? '') : '',
    JSON.stringify(error) ?? '',
    inspect(error, { depth: Number.POSITIVE_INFINITY, showHidden: true }),
    lines.join(''),
  ];
  const needles = secrets.flatMap((secret) =>
    secret.includes('-----BEGIN') ? pemFragments(secret) : [secret],
  );
  for (const rendering of renderings) {
    for (const needle of needles) {
      if (needle.length < 6) continue;
      expect(rendering.includes(needle), `a secret appears in: ${rendering.slice(0, 300)}`).toBe(false);
    }
  }
}

/** The rejection of `promise`, failing the test when it resolves. */
export async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (error: unknown) => error,
  );
}

/**
 * A clock for BtpHttp that reads the time from `clock` (the `receivedAtMs` a Retry-After date is
 * read against) but keeps its timeouts in real time, so that the only timers armed on `clock`
 * are a client's retry waits.
 */
export function timeOnly(clock: Clock): Clock {
  return {
    now: () => clock.now(),
    nowMs: () => clock.nowMs(),
    setTimer: (fn, ms) => systemClock.setTimer(fn, ms),
  };
}

/**
 * Waits (real time, generous deadline) until a client waits on `clock` before its retry, and
 * returns the length of that wait.
 */
export async function retryWaitMs(clock: FakeClock): Promise<number> {
  await vi.waitFor(() => expect(clock.pendingTimers).toBe(1), { timeout: 10_000, interval: 5 });
  return (clock.nextDueMs() ?? Number.NaN) - clock.nowMs();
}

/**
 * A simulator on a fake clock, with an http and token cache that read their time from it: a test
 * reads each retry wait with retryWaitMs, then lets it pass with `clock.advance`.
 */
export async function timedSimulator(): Promise<{
  readonly clock: FakeClock;
  readonly sim: Simulator;
  readonly http: BtpHttp;
  readonly tokens: TokenCache;
  close(): Promise<void>;
}> {
  const clock = new FakeClock();
  const sim = await startSimulator({ keyPool: { size: 0 }, clock: simulatorClock(clock) });
  const http = httpFor(sim, { clock: timeOnly(clock) });
  const tokens = new TokenCache({ client: new TokenClient({ http, clock, retry: FAST_RETRY }), clock });
  return {
    clock,
    sim,
    http,
    tokens,
    close: async () => {
      await http.closeAll();
      await sim.stop();
    },
  };
}
