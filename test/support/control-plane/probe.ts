// Plain GET requests to the components' health and info endpoints (before any Kubernetes client
// is configured). Loopback only.
import { request as httpRequest } from 'node:http';
import { request as httpsRequest, type RequestOptions } from 'node:https';

export interface ProbeTls {
  /** CA to verify the server with; omitted means "do not verify" (self-signed component certs). */
  readonly ca?: string;
  readonly cert?: string;
  readonly key?: string;
}

export interface ProbeResponse {
  readonly status: number;
  readonly body: string;
}

export function get(url: string, tls?: ProbeTls, timeoutMs = 5_000): Promise<ProbeResponse> {
  const target = new URL(url);
  if (target.hostname !== '127.0.0.1' && target.hostname !== 'localhost') {
    return Promise.reject(new Error(`refusing to probe a non-loopback address: ${url}`));
  }
  return new Promise((resolve, reject) => {
    const options: RequestOptions = { method: 'GET', agent: false, timeout: timeoutMs };
    if (tls !== undefined) {
      if (tls.ca !== undefined) options.ca = tls.ca;
      else options.rejectUnauthorized = false;
      if (tls.cert !== undefined) options.cert = tls.cert;
      if (tls.key !== undefined) options.key = tls.key;
    }
    const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
    const req = send(target, options, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
      );
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url} timed out after ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

/** Resolves true on a 200 answer, false on any other answer or a connection error. */
export async function isOk(url: string, tls?: ProbeTls): Promise<boolean> {
  try {
    return (await get(url, tls)).status === 200;
  } catch {
    return false;
  }
}
