// The request pipeline shared by the simulator's servers: route, count, apply faults,
// run the handler, write its JSON reply. Handlers return a Reply and never touch `res`.
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { Clock } from './clock.ts';
import type { Counters } from './counters.ts';
import type { FaultBook } from './faults.ts';
import { InputError } from './input.ts';
import { formatRetryAfter, type RetryAfter } from './retry-after.ts';
import type { Route, RouteMatch } from './routes.ts';

const MAX_BODY_BYTES = 1024 * 1024;

export interface Reply {
  readonly status: number;
  /** Serialized as JSON; omitted for no body. */
  readonly body?: unknown;
  readonly headers?: Readonly<Record<string, string>>;
}

export interface RequestContext {
  readonly req: IncomingMessage;
  readonly url: URL;
  readonly params: Readonly<Record<string, string>>;
  readonly route: Route;
  /** The request body as text (at most 1 MiB), read before faults and handlers ran. */
  body(): Promise<string>;
}

/** The error body in a server's own dialect (XSUAA and SM differ). */
export type ErrorBody = (status: number, message: string) => unknown;

export interface PipelineOptions<R extends Route> {
  readonly match: (method: string, pathname: string) => RouteMatch<R> | undefined;
  readonly notFound: R;
  readonly handle: (context: RequestContext & { readonly route: R }) => Promise<Reply>;
  readonly errorBody: ErrorBody;
  readonly faults: FaultBook;
  readonly counters: Counters;
  readonly clock: Clock;
  readonly logger: Logger;
}

export function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(new InputError('request body too large'));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

export function reply(status: number, body?: unknown, headers?: Readonly<Record<string, string>>): Reply {
  return { status, ...(body === undefined ? {} : { body }), ...(headers === undefined ? {} : { headers }) };
}

export function retryAfterHeaders(retryAfter: RetryAfter | undefined, nowMs: number): Record<string, string> {
  return retryAfter === undefined ? {} : { 'retry-after': formatRetryAfter(retryAfter, nowMs) };
}

function send(res: ServerResponse, answer: Reply): void {
  const payload = answer.body === undefined ? '' : JSON.stringify(answer.body);
  res.writeHead(answer.status, {
    ...(answer.body === undefined ? {} : { 'content-type': 'application/json' }),
    'content-length': Buffer.byteLength(payload),
    ...answer.headers,
  });
  res.end(payload);
}

export function createPipeline<R extends Route>(options: PipelineOptions<R>): RequestListener {
  const { clock, counters, faults, logger } = options;
  const run = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://simulator.invalid');
    const matched = options.match(req.method ?? 'GET', url.pathname);
    const route = matched?.route ?? options.notFound;
    counters.requestArrived(route, clock.now());
    res.on('finish', () => counters.requestCompleted(route, res.statusCode));
    // Read whole before faults and handlers, so that every body that reached the simulator is on
    // record (a test asserts that no private key was ever sent), whatever the answer was.
    const received = readBody(req).then((text) => {
      if (text !== '') {
        counters.bodyReceived({
          route,
          method: req.method ?? 'GET',
          path: url.pathname + url.search,
          atMs: clock.now(),
          body: text,
        });
      }
      return text;
    });
    await received.catch(() => undefined);

    const decision = faults.onRequest(route);
    if (decision.latencyMs > 0) await clock.sleep(decision.latencyMs);
    const action = decision.action;
    if (action?.kind === 'reset') {
      counters.requestCompleted(route, 'reset');
      logger.debug({ route }, 'fault: connection reset');
      req.socket.destroy();
      return;
    }
    if (action?.kind === 'status') {
      logger.debug({ route, status: action.status }, 'fault: status');
      send(res, {
        status: action.status,
        body: options.errorBody(action.status, 'injected fault'),
        headers: retryAfterHeaders(action.retryAfter, clock.now()),
      });
      return;
    }
    if (matched === undefined) {
      send(res, reply(404, options.errorBody(404, `no route for ${req.method} ${url.pathname}`)));
      return;
    }
    const context = {
      req,
      url,
      params: matched.params,
      route: matched.route,
      body: () => received,
    };
    let answer: Reply;
    try {
      answer = await options.handle(context);
    } catch (error) {
      if (error instanceof InputError) {
        answer = reply(400, options.errorBody(400, error.message));
      } else {
        logger.error({ route, err: error }, 'handler failed');
        answer = reply(500, options.errorBody(500, 'internal simulator error'));
      }
    }
    logger.debug({ route, method: req.method, path: url.pathname, status: answer.status }, 'request');
    send(res, answer);
  };
  return (req, res) => {
    run(req, res).catch((error: unknown) => {
      logger.error({ err: error }, 'request pipeline failed');
      if (!res.headersSent) send(res, reply(500, options.errorBody(500, 'internal simulator error')));
      else res.destroy();
    });
  };
}
