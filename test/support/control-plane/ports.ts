// Free loopback ports for the control-plane processes.
//
// The port is found by binding port 0 on 127.0.0.1 and closing the listener again, so there is a
// small window in which another process may take it; callers retry a start that failed with
// "address already in use" (see `isAddressInUse`). Ports handed out by this process are
// remembered so that two components started back to back never receive the same one.
import { createServer } from 'node:net';

export const LOOPBACK = '127.0.0.1';

const handedOut = new Set<number>();

function bindEphemeral(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ host: LOOPBACK, port: 0, exclusive: true }, () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => (port > 0 ? resolve(port) : reject(new Error('no port assigned'))));
    });
  });
}

/** A loopback port that was free a moment ago and that this process has not handed out before. */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = await bindEphemeral();
    if (!handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error('could not find a free loopback port in 50 attempts');
}

/** Whether a component's log says it lost the race for its port. */
export function isAddressInUse(logText: string): boolean {
  return /address already in use|EADDRINUSE/i.test(logText);
}
