// What tests can count: requests per route and status, request arrival times per route
// (to check that retries honoured Retry-After), TLS handshakes per server, binding and
// token totals, creations per binding name, deletion times per binding, authenticated Service
// Manager requests per client and route, and firings per fault. Live bindings per instance are
// read from the binding store, not counted.
import { type Route, SERVERS, type ServerName } from './routes.ts';

/** Arrival times kept per route; older ones are dropped first. */
const MAX_TIMES_PER_ROUTE = 10_000;
/** Deletion times kept; the oldest are dropped first. */
const MAX_DELETIONS = 10_000;

/** A response status, or `reset` when the connection was destroyed without a response. */
export type Outcome = number | 'reset';

export interface CounterSnapshot {
  /** route -> status (or `reset`) -> count */
  readonly requests: Readonly<Partial<Record<Route, Readonly<Record<string, number>>>>>;
  /** route -> arrival times (ms since epoch, simulator clock), oldest first */
  readonly requestTimes: Readonly<Partial<Record<Route, readonly number[]>>>;
  readonly handshakes: Readonly<Record<ServerName, number>>;
  /** server -> Node/OpenSSL error code of the failed handshake -> count */
  readonly handshakeFailures: Readonly<Record<ServerName, Readonly<Record<string, number>>>>;
  readonly bindingsCreated: number;
  readonly bindingsDeleted: number;
  readonly tokensIssued: number;
  /** binding name -> bindings of that name created (a name can be created again once deleted) */
  readonly bindingsCreatedByName: Readonly<Record<string, number>>;
  /** binding id -> when it was deleted (ms since epoch, simulator clock); the last 10,000 */
  readonly bindingDeletedAt: Readonly<Record<string, number>>;
  /** OAuth client id of the bearer token -> route -> Service Manager requests it authenticated */
  readonly smRequestsByClient: Readonly<Record<string, Readonly<Partial<Record<Route, number>>>>>;
  /** fault id -> times it fired (kept after the fault is used up or removed) */
  readonly faultsFired: Readonly<Record<string, number>>;
}

function emptyServers<T>(make: () => T): Record<ServerName, T> {
  return Object.fromEntries(SERVERS.map((server) => [server, make()])) as Record<ServerName, T>;
}

/** A request body as received, before any fault or handler ran (kept for key-leak assertions). */
export interface ReceivedBody {
  readonly route: Route;
  readonly method: string;
  /** Path and query. */
  readonly path: string;
  readonly atMs: number;
  readonly body: string;
}

/** Bodies kept; the oldest are dropped first. */
const MAX_BODIES = 10_000;

export class Counters {
  #requests = new Map<Route, Map<string, number>>();
  #times = new Map<Route, number[]>();
  #handshakes = emptyServers(() => 0);
  #handshakeFailures = emptyServers(() => new Map<string, number>());
  #bindingsCreated = 0;
  #bindingsDeleted = 0;
  #tokensIssued = 0;
  #createdByName = new Map<string, number>();
  #deletedAt = new Map<string, number>();
  #smRequestsByClient = new Map<string, Map<Route, number>>();
  #faultsFired = new Map<string, number>();
  #bodies: ReceivedBody[] = [];

  /** Every non-empty request body, on every server (the last 10,000). */
  bodyReceived(body: ReceivedBody): void {
    this.#bodies.push(body);
    if (this.#bodies.length > MAX_BODIES) this.#bodies.splice(0, this.#bodies.length - MAX_BODIES);
  }

  /** The request bodies received, oldest first (not part of `snapshot`: they can be large). */
  bodies(): readonly ReceivedBody[] {
    return [...this.#bodies];
  }

  requestArrived(route: Route, atMs: number): void {
    let times = this.#times.get(route);
    if (times === undefined) {
      times = [];
      this.#times.set(route, times);
    }
    times.push(atMs);
    if (times.length > MAX_TIMES_PER_ROUTE) times.splice(0, times.length - MAX_TIMES_PER_ROUTE);
  }

  requestCompleted(route: Route, outcome: Outcome): void {
    let byStatus = this.#requests.get(route);
    if (byStatus === undefined) {
      byStatus = new Map();
      this.#requests.set(route, byStatus);
    }
    const key = String(outcome);
    byStatus.set(key, (byStatus.get(key) ?? 0) + 1);
  }

  handshake(server: ServerName): void {
    this.#handshakes[server] += 1;
  }

  handshakeFailed(server: ServerName, code: string): void {
    const failures = this.#handshakeFailures[server];
    failures.set(code, (failures.get(code) ?? 0) + 1);
  }

  bindingCreated(name: string): void {
    this.#bindingsCreated += 1;
    this.#createdByName.set(name, (this.#createdByName.get(name) ?? 0) + 1);
  }

  bindingDeleted(id: string, atMs: number): void {
    this.#bindingsDeleted += 1;
    this.#deletedAt.delete(id);
    this.#deletedAt.set(id, atMs);
    if (this.#deletedAt.size > MAX_DELETIONS) {
      const oldest = this.#deletedAt.keys().next();
      if (oldest.done !== true) this.#deletedAt.delete(oldest.value);
    }
  }

  smRequestAuthenticated(clientId: string, route: Route): void {
    let byRoute = this.#smRequestsByClient.get(clientId);
    if (byRoute === undefined) {
      byRoute = new Map();
      this.#smRequestsByClient.set(clientId, byRoute);
    }
    byRoute.set(route, (byRoute.get(route) ?? 0) + 1);
  }

  faultFired(id: string): void {
    this.#faultsFired.set(id, (this.#faultsFired.get(id) ?? 0) + 1);
  }

  tokenIssued(): void {
    this.#tokensIssued += 1;
  }

  snapshot(): CounterSnapshot {
    const requests: Partial<Record<Route, Record<string, number>>> = {};
    for (const [route, byStatus] of this.#requests) requests[route] = Object.fromEntries(byStatus);
    const requestTimes: Partial<Record<Route, number[]>> = {};
    for (const [route, times] of this.#times) requestTimes[route] = [...times];
    return {
      requests,
      requestTimes,
      handshakes: { ...this.#handshakes },
      handshakeFailures: Object.fromEntries(
        SERVERS.map((server) => [server, Object.fromEntries(this.#handshakeFailures[server])]),
      ) as Record<ServerName, Record<string, number>>,
      bindingsCreated: this.#bindingsCreated,
      bindingsDeleted: this.#bindingsDeleted,
      tokensIssued: this.#tokensIssued,
      bindingsCreatedByName: Object.fromEntries(this.#createdByName),
      bindingDeletedAt: Object.fromEntries(this.#deletedAt),
      smRequestsByClient: Object.fromEntries(
        [...this.#smRequestsByClient].map(([client, byRoute]) => [client, Object.fromEntries(byRoute)]),
      ),
      faultsFired: Object.fromEntries(this.#faultsFired),
    };
  }

  reset(): void {
    this.#requests = new Map();
    this.#times = new Map();
    this.#handshakes = emptyServers(() => 0);
    this.#handshakeFailures = emptyServers(() => new Map<string, number>());
    this.#bindingsCreated = 0;
    this.#bindingsDeleted = 0;
    this.#tokensIssued = 0;
    this.#createdByName = new Map();
    this.#deletedAt = new Map();
    this.#smRequestsByClient = new Map();
    this.#faultsFired = new Map();
    this.#bodies = [];
  }
}

/** Total requests of `route` (any status) in a snapshot. */
export function requestCount(snapshot: CounterSnapshot, route: Route, outcome?: Outcome): number {
  const byStatus = snapshot.requests[route] ?? {};
  if (outcome !== undefined) return byStatus[String(outcome)] ?? 0;
  return Object.values(byStatus).reduce((sum, count) => sum + count, 0);
}
