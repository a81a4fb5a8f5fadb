// BtpHttp sends nothing outside --allowed-hosts (issue 10, point 6): a listening server on a port
// the list does not name accepts no connection, however its address is spelled; and a redirect is
// returned to the caller as an answer, never followed, so an allowed server cannot send a request
// on to a host outside the list.
import { once } from 'node:events';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { type AddressInfo, createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllowedHosts } from '../../src/btp/allowed-hosts.ts';
import { BtpError } from '../../src/btp/errors.ts';
import { BtpHttp, type BtpRequest } from '../../src/btp/http.ts';
import { systemClock } from '../../src/runtime/clock.ts';

let trap: Server;
let trapPort: number;
const accepted: Socket[] = [];
/** An allowed server that answers every request with a redirect to the trap. */
let redirecting: HttpServer;
let redirectingPort: number;
let redirected = 0;

beforeAll(async () => {
  trap = createServer((socket) => accepted.push(socket));
  trap.listen(0, '127.0.0.1');
  await once(trap, 'listening');
  trapPort = (trap.address() as AddressInfo).port;
  redirecting = createHttpServer((_req, res) => {
    redirected += 1;
    res.writeHead(307, { location: `http://127.0.0.1:${trapPort}/oauth/token` }).end();
  });
  redirecting.listen(0, '127.0.0.1');
  await once(redirecting, 'listening');
  redirectingPort = (redirecting.address() as AddressInfo).port;
});

afterAll(() => {
  for (const socket of accepted) socket.destroy();
  trap.close();
  redirecting.close();
});

const tokenRequest = (url: string): BtpRequest => ({
  operation: 'xsuaa.token',
  credentialId: 'a',
  method: 'POST',
  url: new URL(url),
  body: 'grant_type=client_credentials',
  responseKind: 'token',
});

describe('egress', () => {
  it('refuses a host or port outside the list before connecting: BtpHostNotAllowed, no socket', async () => {
    const http = new BtpHttp({
      clock: systemClock,
      allowedHosts: parseAllowedHosts(`127.0.0.1:${redirectingPort}`),
    });
    const urls = [
      `https://127.0.0.1:${trapPort}/oauth/token`,
      `https://127.0.0.1:${redirectingPort}@127.0.0.1:${trapPort}/`,
      `https://0x7f.0.0.1:${trapPort}/`,
      `https://2130706433:${trapPort}/`,
      `https://[::ffff:127.0.0.1]:${redirectingPort}/`,
      `https://localhost:${redirectingPort}/`,
    ];
    try {
      for (const url of urls) {
        const failure = await http.request(tokenRequest(url)).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(failure, url).toBeInstanceOf(BtpError);
        expect(failure).toMatchObject({ code: 'BtpHostNotAllowed', retryable: false, requestSent: false });
        expect((failure as Error).message).toMatch(/^host \S+ is not in the operator's --allowed-hosts/);
      }
      expect(http.poolCount).toBe(0);
      expect(http.counts()['xsuaa.token']).toEqual({ BtpHostNotAllowed: urls.length });
    } finally {
      await http.closeAll();
    }
    expect(accepted).toHaveLength(0);
  });

  it('does not follow a redirect: a 3xx is the answer, and its Location is not contacted', async () => {
    const http = new BtpHttp({
      clock: systemClock,
      allowedHosts: parseAllowedHosts(`127.0.0.1:${redirectingPort}`),
    });
    try {
      const answer = await http.request(tokenRequest(`http://127.0.0.1:${redirectingPort}/oauth/token`));
      expect(answer.status).toBe(307);
      expect(redirected).toBe(1);
    } finally {
      await http.closeAll();
    }
    expect(accepted).toHaveLength(0);
  });
});
