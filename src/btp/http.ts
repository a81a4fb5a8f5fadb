// The undici boundary of the operator: the only module that imports undici. It keeps one
// keep-alive connection pool per (origin, credential) with the trust we were given (system CAs
// plus an optional extra CA bundle; verification is never switched off) and, for mTLS, the
// client certificate and key. Every attempt is bounded by a timer on the injected clock
// (undici's own header/body timeouts are only a backstop), failures without an HTTP status become
// catalogued BtpErrors (transport-errors.ts), and requests are counted per operation and outcome.
import { createHash } from 'node:crypto';
import { isIP, type Socket } from 'node:net';
import { createSecureContext, rootCertificates, type SecureContext, connect as tlsConnect } from 'node:tls';
import { buildConnector, Pool } from 'undici';
import type { Clock, Timer } from '../runtime/clock.ts';
import { formatBytes } from '../runtime/text.ts';
import { type AllowedHosts, endpointOf } from './allowed-hosts.ts';
import { BtpError, describeRequest } from './errors.ts';
import { RESPONSE_BODY_LIMITS, type ResponseKind } from './limits.ts';
import { classifyTransportFailure, errorCodes, isClientCertificateAlert } from './transport-errors.ts';

/** A client certificate chain (leaf first) and its private key, PEM. */
export interface ClientIdentity {
  readonly certificate: string;
  readonly key: string;
}

export interface BtpHttpOptions {
  readonly clock: Clock;
  /** Extra trusted CA certificates (PEM, one or more), on top of the system's. */
  readonly caPem?: string;
  readonly connectTimeoutMs?: number;
  /** One attempt, from dispatch to the last byte of the body. */
  readonly requestTimeoutMs?: number;
  readonly keepAliveTimeoutMs?: number;
  /** Connections per pool unless a request asks for another number when its pool is created. */
  readonly connections?: number;
  /**
   * How long a probe connection must stay open after its handshake for the server to count as
   * accepting our client certificate (see `#certificateRejected`).
   */
  readonly handshakeProbeMs?: number;
  /**
   * Which hosts and ports may be contacted at all (--allowed-hosts); a request to any other fails
   * as BtpHostNotAllowed before a DNS lookup or a connection is tried. The test harness allows
   * loopback.
   */
  readonly allowedHosts: AllowedHosts;
  /** Told of every request when it ends (metrics): its outcome and how long it took, clock time. */
  readonly onRequest?: RequestObserver;
}

/** `outcome`: the HTTP status, or the BtpError code when there was none. */
export type RequestObserver = (operation: string, outcome: string, durationMs: number) => void;

type HttpSettings = Required<Omit<BtpHttpOptions, 'clock' | 'caPem' | 'allowedHosts' | 'onRequest'>>;

export const DEFAULT_HTTP_OPTIONS: Readonly<HttpSettings> = Object.freeze({
  connectTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  keepAliveTimeoutMs: 30_000,
  connections: 8,
  handshakeProbeMs: 1_000,
});

export type HttpMethod = 'GET' | 'POST' | 'PATCH' | 'DELETE';

export interface BtpRequest {
  /** Metric label, e.g. `xsuaa.token`, `sm.createBinding`. */
  readonly operation: string;
  /** Whose pool: `close(credentialId)` closes every pool of it. */
  readonly credentialId: string;
  readonly method: HttpMethod;
  readonly url: URL;
  /** Presented in the TLS handshake (mTLS). */
  readonly identity?: ClientIdentity;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string;
  /** At most `requestTimeoutMs`; callers pass what is left of their deadline. */
  readonly timeoutMs?: number;
  /** Pool size when this request creates the pool. */
  readonly connections?: number;
  /** More CA certificates (PEM) to trust for this request, on top of the client's own. */
  readonly caPem?: string;
  /** What the answer is: its body is read up to the cap of this kind (limits.ts), never further. */
  readonly responseKind: ResponseKind;
}

export interface BtpResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  /** The parsed JSON body; undefined when empty or not JSON. */
  readonly json: unknown;
  /** Clock time the answer was complete. */
  readonly receivedAtMs: number;
}

interface PoolEntry {
  readonly credentialId: string;
  readonly pool: Pool;
}

/** Remembered TLS alerts per socket, so a later "other side closed" can be explained. */
const MAX_REMEMBERED_SOCKETS = 256;

function socketKey(localPort: unknown, remotePort: unknown): string {
  return `${String(localPort)}>${String(remotePort)}`;
}

function digest(text: string): string {
  return text === '' ? 'none' : createHash('sha256').update(text).digest('hex');
}

function fingerprint(identity: ClientIdentity | undefined): string {
  if (identity === undefined) return 'anonymous';
  return createHash('sha256').update(identity.certificate).update('\0').update(identity.key).digest('hex');
}

/** The socket description undici attaches to a SocketError. */
function socketInfo(error: unknown): { localPort?: unknown; remotePort?: unknown; bytesRead?: unknown } {
  const seen = new Set<unknown>();
  let current: unknown = error;
  while (typeof current === 'object' && current !== null && !seen.has(current)) {
    seen.add(current);
    if ('socket' in current && typeof current.socket === 'object' && current.socket !== null) {
      return current.socket;
    }
    current = 'cause' in current ? current.cause : undefined;
  }
  return {};
}

/** A body over its cap: the request is aborted and nothing more is read. */
class BodyTooLarge extends Error {}

/**
 * The body as text, or BodyTooLarge as soon as it is known to exceed `maxBytes`: from its
 * Content-Length before a byte is read, else at the first chunk that would cross the cap (that
 * chunk is not kept). At most `maxBytes` are ever buffered.
 */
async function readBody(
  body: AsyncIterable<unknown>,
  contentLength: unknown,
  maxBytes: number,
): Promise<string> {
  const declared = typeof contentLength === 'string' ? Number(contentLength) : Number.NaN;
  if (Number.isFinite(declared) && declared > maxBytes) throw new BodyTooLarge();
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk));
    if (size + buffer.length > maxBytes) throw new BodyTooLarge();
    size += buffer.length;
    chunks.push(buffer);
  }
  return Buffer.concat(chunks, size).toString('utf8');
}

function parseJson(text: string): unknown {
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

export class BtpHttp {
  readonly #clock: Clock;
  readonly #ca: string[];
  readonly #extraCa: string;
  readonly #options: HttpSettings;
  readonly #pools = new Map<string, PoolEntry>();
  readonly #counts = new Map<string, Map<string, number>>();
  readonly #alerts = new Map<string, string>();
  readonly #connectErrors = new WeakSet<object>();
  readonly #allowedHosts: AllowedHosts;
  readonly #onRequest: RequestObserver | undefined;

  constructor(options: BtpHttpOptions) {
    this.#clock = options.clock;
    const extra = options.caPem?.trim() ?? '';
    this.#extraCa = extra;
    this.#ca = extra === '' ? [...rootCertificates] : [...rootCertificates, extra];
    this.#allowedHosts = options.allowedHosts;
    this.#onRequest = options.onRequest;
    const {
      clock: _clock,
      caPem: _caPem,
      allowedHosts: _allowedHosts,
      onRequest: _onRequest,
      ...rest
    } = options;
    this.#options = { ...DEFAULT_HTTP_OPTIONS, ...rest };
  }

  /** Requests per operation and outcome: an HTTP status, or a BtpError code when there was none. */
  counts(): Record<string, Record<string, number>> {
    const snapshot: Record<string, Record<string, number>> = {};
    for (const [operation, outcomes] of this.#counts) snapshot[operation] = Object.fromEntries(outcomes);
    return snapshot;
  }

  /** Number of open pools (for tests and metrics). */
  get poolCount(): number {
    return this.#pools.size;
  }

  /**
   * One exchange. Resolves with any HTTP status (the callers map statuses to errors); rejects
   * with a BtpError when there is none: no connection, TLS refusal, timeout, oversized body.
   */
  async request(request: BtpRequest): Promise<BtpResponse> {
    const { method, url } = request;
    const startedMs = this.#clock.nowMs();
    if (!this.#allowedHosts.allows(url)) {
      // Host and port only: the rest of a tenant's URL may hold anything.
      const failure = new BtpError(
        'BtpHostNotAllowed',
        `host ${endpointOf(url)} is not in the operator's --allowed-hosts; no connection was made`,
        { requestSent: false },
      );
      this.#count(request.operation, failure.code, startedMs);
      throw failure;
    }
    const timeoutMs = Math.max(1, Math.min(request.timeoutMs ?? Infinity, this.#options.requestTimeoutMs));
    const controller = new AbortController();
    let timedOut = false;
    const timer: Timer = this.#clock.setTimer(() => {
      timedOut = true;
      controller.abort();
    }, timeoutMs);
    try {
      const pool = this.#pool(request);
      const response = await pool.request({
        path: `${url.pathname}${url.search}`,
        method,
        headers: { accept: 'application/json', 'user-agent': 'btp-cert-operator', ...request.headers },
        ...(request.body === undefined ? {} : { body: request.body }),
        signal: controller.signal,
        // A backstop in real time; the clock's timer above is what normally ends an attempt.
        headersTimeout: 2 * timeoutMs,
        bodyTimeout: 2 * timeoutMs,
      });
      const maxBytes = RESPONSE_BODY_LIMITS[request.responseKind];
      let text: string;
      try {
        text = await readBody(response.body, response.headers['content-length'], maxBytes);
      } catch (error) {
        if (!(error instanceof BodyTooLarge)) throw error;
        // Abort the exchange: the rest of the body is never read, its connection is dropped.
        controller.abort();
        response.body.destroy();
        throw new BtpError(
          'BtpResponseTooLarge',
          `${describeRequest(method, url)}: ${response.statusCode} with a body over ${formatBytes(maxBytes)}, the limit for a ${request.responseKind} answer; the request was aborted`,
          { httpStatus: response.statusCode },
        );
      }
      this.#count(request.operation, String(response.statusCode), startedMs);
      return {
        status: response.statusCode,
        headers: response.headers,
        json: parseJson(text),
        receivedAtMs: this.#clock.nowMs(),
      };
    } catch (error) {
      const failure =
        error instanceof BtpError ? error : await this.#classify(request, error, timedOut, timeoutMs);
      this.#count(request.operation, failure.code, startedMs);
      throw failure;
    } finally {
      timer.cancel();
    }
  }

  /** Closes every pool of a credential (e.g. when it was rotated or its object deleted). */
  async close(credentialId: string): Promise<void> {
    const closing: Promise<void>[] = [];
    for (const [key, entry] of this.#pools) {
      if (entry.credentialId !== credentialId) continue;
      this.#pools.delete(key);
      closing.push(entry.pool.close());
    }
    await Promise.all(closing);
  }

  async closeAll(): Promise<void> {
    const entries = [...this.#pools.values()];
    this.#pools.clear();
    await Promise.all(entries.map((entry) => entry.pool.close()));
  }

  #count(operation: string, outcome: string, startedMs: number): void {
    this.#onRequest?.(operation, outcome, this.#clock.nowMs() - startedMs);
    let outcomes = this.#counts.get(operation);
    if (outcomes === undefined) {
      outcomes = new Map();
      this.#counts.set(operation, outcomes);
    }
    outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
  }

  #pool(request: BtpRequest): Pool {
    const origin = request.url.origin;
    const extraCa = request.caPem?.trim() ?? '';
    const key = `${request.credentialId}\0${origin}\0${fingerprint(request.identity)}\0${digest(extraCa)}`;
    const existing = this.#pools.get(key);
    if (existing !== undefined) return existing.pool;
    const identity = request.identity;
    if (identity !== undefined) this.#checkIdentity(request, identity);
    const base = buildConnector({
      secureContext: this.#secureContext(request, identity),
      timeout: this.#options.connectTimeoutMs,
      allowH2: false,
    } as buildConnector.BuildOptions);
    const pool = new Pool(origin, {
      connections: request.connections ?? this.#options.connections,
      keepAliveTimeout: this.#options.keepAliveTimeoutMs,
      connect: (options, callback) =>
        base(options, (error, socket) => {
          if (error !== null) {
            this.#connectErrors.add(error);
            callback(error, null);
            return;
          }
          this.#watch(socket);
          callback(null, socket);
        }),
    });
    this.#pools.set(key, { credentialId: request.credentialId, pool });
    return pool;
  }

  /**
   * One TLS context for all connections of a pool: the client identity, and as trust the system
   * roots (Node's shared store) plus the client's and the request's extra CAs, added to a store of
   * this context's own (Node copies the shared store before a CA is added to it, so an extra CA is
   * never trusted by any other context). Given as a `ca` list instead, every connection parsed the
   * ~145 system roots again into a store of its own: 0.8 MB and 3.4 ms per connection.
   */
  #secureContext(request: BtpRequest, identity: ClientIdentity | undefined): SecureContext {
    const context = createSecureContext(
      identity === undefined ? {} : { cert: identity.certificate, key: identity.key },
    );
    const extras = [this.#extraCa, request.caPem?.trim() ?? ''].filter((pem) => pem !== '');
    const native = (context as { context?: { addCACert?: (pem: string) => void } }).context;
    if (extras.length > 0 && typeof native?.addCACert !== 'function') {
      // A Node without it: the full list, as before (correct, only larger).
      return createSecureContext({
        ca: this.#trust(request),
        ...(identity === undefined ? {} : { cert: identity.certificate, key: identity.key }),
      });
    }
    for (const pem of extras) native?.addCACert?.(pem);
    return context;
  }

  /** The CAs a request trusts: the system's, the client's extra bundle, and the request's own. */
  #trust(request: BtpRequest): string[] {
    const extra = request.caPem?.trim() ?? '';
    return extra === '' ? this.#ca : [...this.#ca, extra];
  }

  /** Unusable PEM or a key that does not match the certificate fails here, not as a vague socket error. */
  #checkIdentity(request: BtpRequest, identity: ClientIdentity): void {
    try {
      createSecureContext({ cert: identity.certificate, key: identity.key });
    } catch (error) {
      const code = errorCodes(error)[0] ?? 'unknown';
      throw new BtpError(
        'BtpInvalidClientCredential',
        `${describeRequest(request.method, request.url)}: the client certificate and key cannot be used for TLS (${code})`,
        { cause: new Error(`createSecureContext failed with ${code}`), requestSent: false },
      );
    }
  }

  /** Records a TLS alert a socket receives; with TLS 1.3 undici itself only reports "other side closed". */
  #watch(socket: Socket): void {
    const key = socketKey(socket.localPort, socket.remotePort);
    socket.on('error', (error) => {
      const alert = errorCodes(error).find(isClientCertificateAlert);
      if (alert === undefined) return;
      this.#alerts.set(key, alert);
      if (this.#alerts.size > MAX_REMEMBERED_SOCKETS) {
        const oldest = this.#alerts.keys().next();
        if (oldest.done !== true) this.#alerts.delete(oldest.value);
      }
    });
  }

  async #classify(
    request: BtpRequest,
    error: unknown,
    timedOut: boolean,
    timeoutMs: number,
  ): Promise<BtpError> {
    const info = socketInfo(error);
    const key = socketKey(info.localPort, info.remotePort);
    const alertCode = this.#alerts.get(key);
    this.#alerts.delete(key);
    const duringConnect = typeof error === 'object' && error !== null && this.#connectErrors.has(error);
    const codes = errorCodes(error);
    const silentClose =
      request.identity !== undefined &&
      !timedOut &&
      !duringConnect &&
      alertCode === undefined &&
      info.bytesRead === 0 &&
      (codes.includes('UND_ERR_SOCKET') || codes.includes('ECONNRESET'));
    const certificateRejectedSilently =
      silentClose && request.identity !== undefined
        ? await this.#certificateRejected(request.url, request.identity, this.#trust(request))
        : false;
    return classifyTransportFailure({
      method: request.method,
      url: request.url,
      error,
      timedOut,
      timeoutMs,
      duringConnect,
      alertCode,
      certificateRejectedSilently,
    });
  }

  /**
   * A server that verifies client certificates after the TLS 1.3 handshake (Node's own TLS server
   * does) closes the connection without an alert when it rejects one, which looks like any other
   * dropped connection. To tell the two apart, connect once more with the same certificate and send
   * nothing: a server that closes that connection at once rejects the certificate; one that keeps
   * it open for `handshakeProbeMs` accepts it, and the first failure was a dropped connection.
   */
  #certificateRejected(url: URL, identity: ClientIdentity, ca: string[]): Promise<boolean> {
    const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
    const port = Number(url.port === '' ? 443 : url.port);
    return new Promise((resolve) => {
      let settled = false;
      let secured = false;
      let timer: Timer | undefined;
      const socket = tlsConnect({
        host,
        port,
        ...(isIP(host) === 0 ? { servername: host } : {}),
        ca,
        cert: identity.certificate,
        key: identity.key,
      });
      const finish = (rejected: boolean): void => {
        if (settled) return;
        settled = true;
        timer?.cancel();
        socket.destroy();
        resolve(rejected);
      };
      timer = this.#clock.setTimer(() => finish(false), this.#options.connectTimeoutMs);
      socket.on('secureConnect', () => {
        secured = true;
        timer?.cancel();
        timer = this.#clock.setTimer(() => finish(false), this.#options.handshakeProbeMs);
      });
      socket.on('error', (error) => {
        const codes = errorCodes(error);
        finish(codes.some(isClientCertificateAlert) || (secured && codes.includes('ECONNRESET')));
      });
      socket.on('close', () => finish(secured));
    });
  }
}
