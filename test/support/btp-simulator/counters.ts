// What tests can count: requests per route and status, request arrival times per route
// (to check that retries honoured Retry-After), TLS handshakes per server, binding and
// token totals. Live bindings per instance are read from the binding store, not counted.
import type { Route, ServerName } from './routes.ts';

/** Arrival times kept per route; older ones are dropped first. */
const MAX_TIMES_PER_ROUTE = 10_000;

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
}

function emptyServers<T>(make: () => T): Record<ServerName, T> {
  return { xsuaa: make(), xsuaaCert: make(), sm: make() };
}

export class Counters {
  #requests = new Map<Route, Map<string, number>>();
  #times = new Map<Route, number[]>();
  #handshakes = emptyServers(() => 0);
  #handshakeFailures = emptyServers(() => new Map<string, number>());
  #bindingsCreated = 0;
  #bindingsDeleted = 0;
  #tokensIssued = 0;

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

  bindingCreated(): void {
    this.#bindingsCreated += 1;
  }

  bindingDeleted(): void {
    this.#bindingsDeleted += 1;
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
      handshakeFailures: {
        xsuaa: Object.fromEntries(this.#handshakeFailures.xsuaa),
        xsuaaCert: Object.fromEntries(this.#handshakeFailures.xsuaaCert),
        sm: Object.fromEntries(this.#handshakeFailures.sm),
      },
      bindingsCreated: this.#bindingsCreated,
      bindingsDeleted: this.#bindingsDeleted,
      tokensIssued: this.#tokensIssued,
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
  }
}

/** Total requests of `route` (any status) in a snapshot. */
export function requestCount(snapshot: CounterSnapshot, route: Route, outcome?: Outcome): number {
  const byStatus = snapshot.requests[route] ?? {};
  if (outcome !== undefined) return byStatus[String(outcome)] ?? 0;
  return Object.values(byStatus).reduce((sum, count) => sum + count, 0);
}
