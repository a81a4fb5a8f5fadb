// HTTP(S) listeners on loopback only, with TLS handshake accounting and a clean close.
import { createServer as createHttpServer, type RequestListener, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { ServerIdentity } from './pki.ts';

export const LOOPBACK = '127.0.0.1';

export interface Listener {
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

export interface HttpsListenOptions {
  readonly identity: ServerIdentity;
  readonly port: number;
  /** When set, a client certificate chaining to this CA is required in the handshake. */
  readonly clientCaPem?: string;
  readonly onHandshake: () => void;
  /** `reason`: the certificate verification error (e.g. CERT_HAS_EXPIRED) or the TLS error code. */
  readonly onHandshakeFailure: (reason: string) => void;
  readonly handler: RequestListener;
}

/**
 * How long an idle keep-alive connection stays open. Node's default is 5 s; load balancers in front
 * of BTP keep them about a minute. Clients see it in the Keep-Alive header and close theirs first.
 */
export const KEEP_ALIVE_TIMEOUT_MS = 60_000;

async function listen(server: Server, port: number, scheme: 'http' | 'https'): Promise<Listener> {
  server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: LOOPBACK, port }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  return {
    url: `${scheme}://${LOOPBACK}:${address.port}`,
    port: address.port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

export function listenHttps(options: HttpsListenOptions): Promise<Listener> {
  const mutualTls = options.clientCaPem !== undefined;
  const server = createHttpsServer(
    {
      key: options.identity.keyPem,
      cert: options.identity.certificateChainPem,
      ...(mutualTls ? { requestCert: true, rejectUnauthorized: true, ca: [options.clientCaPem] } : {}),
    },
    options.handler,
  );
  server.on('secureConnection', options.onHandshake);
  // Node verifies a presented client chain after the handshake and then closes the socket
  // without an alert; the verification error is left on the socket. A missing certificate
  // is refused by OpenSSL itself, with the TLS 1.3 alert certificate_required.
  server.on('tlsClientError', (error: Error & { code?: string }, socket) => {
    options.onHandshakeFailure(socket.authorizationError?.toString() ?? error.code ?? 'unknown');
  });
  return listen(server, options.port, 'https');
}

export function listenHttp(port: number, handler: RequestListener): Promise<Listener> {
  return listen(createHttpServer(handler), port, 'http');
}
