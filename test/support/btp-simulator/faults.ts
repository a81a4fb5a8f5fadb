// The closed fault catalogue. A fault is plain data (so the admin API can accept it as
// JSON); the FaultBook holds the active ones and answers, per request, what to do.
//
//   status          the next `times` requests of `route` fail with `status` (+ Retry-After), then recover;
//                   a 429 without `retryAfter` (here or in errorRate) gets `Retry-After: 1`
//   errorRate       each request of `route` fails with probability `rate` (seeded, reproducible) until cleared
//   latency         each request of `route` waits `ms` first (the next `times` only, when given)
//   reset           the next `times` requests of `route` get their connection destroyed, no response
//   async           the next `times` operations of `route` answer 202 + Location even when sync is configured
//   stuckOperation  the next `times` operations of `route` are async and never finish
//   failOperation   the next `times` operations of `route` are async and end in state `failed`
//   credential      the next `times` x509 bindings carry the given credential defect
//   keystore        the Destination service's answers that carry the stored certificate `certificate`
//                   (find-destination, GET of the certificate) show the defect (all, or the next `times`)
import {
  optionalInteger,
  rejectUnknownKeys,
  requireInteger,
  requireNumber,
  requireOneOf,
  requireRecord,
  requireString,
} from './input.ts';
import { type Random, seededRandom } from './prng.ts';
import { RETRY_AFTER_FORMS, type RetryAfter } from './retry-after.ts';
import { ASYNC_ROUTES, type AsyncRoute, ROUTES, type Route } from './routes.ts';

export const CREDENTIAL_DEFECTS = [
  'malformedPem',
  'truncatedCertificate',
  'keyMismatch',
  'expired',
  'notYetValid',
  'chainWrongOrder',
  'chainMissingIntermediate',
  'foreignCa',
] as const;
export type CredentialDefect = (typeof CREDENTIAL_DEFECTS)[number];

/**
 * wrongPassword: the keystore is encrypted under another password than the destination's
 * KeyStorePassword (and than the one it was stored with); corruptKeystore: the file is cut in
 * half; missingCertificate: the file is not there (404, and no entry in `certificates`).
 */
export const KEYSTORE_DEFECTS = ['wrongPassword', 'corruptKeystore', 'missingCertificate'] as const;
export type KeystoreDefect = (typeof KEYSTORE_DEFECTS)[number];

export type Fault =
  | {
      readonly kind: 'status';
      readonly route: Route;
      readonly status: number;
      readonly times: number;
      readonly retryAfter?: RetryAfter;
    }
  | {
      readonly kind: 'errorRate';
      readonly route: Route;
      readonly status: number;
      readonly rate: number;
      readonly seed: number;
      readonly retryAfter?: RetryAfter;
    }
  | { readonly kind: 'latency'; readonly route: Route; readonly ms: number; readonly times?: number }
  | { readonly kind: 'reset'; readonly route: Route; readonly times: number }
  | { readonly kind: 'async'; readonly route: AsyncRoute; readonly times: number }
  | { readonly kind: 'stuckOperation'; readonly route: AsyncRoute; readonly times: number }
  | { readonly kind: 'failOperation'; readonly route: AsyncRoute; readonly times: number }
  | { readonly kind: 'credential'; readonly defect: CredentialDefect; readonly times: number }
  | {
      readonly kind: 'keystore';
      readonly defect: KeystoreDefect;
      /** The stored certificate's Name. */
      readonly certificate: string;
      readonly times?: number;
    };

export type FaultKind = Fault['kind'];
export const FAULT_KINDS = [
  'status',
  'errorRate',
  'latency',
  'reset',
  'async',
  'stuckOperation',
  'failOperation',
  'credential',
  'keystore',
] as const satisfies readonly FaultKind[];

export interface ActiveFault {
  readonly id: string;
  readonly fault: Fault;
  /** Firings left; undefined when unlimited. */
  readonly remaining: number | undefined;
  readonly fired: number;
}

/** What to do with a request before its handler runs. */
export interface RequestFaultDecision {
  readonly latencyMs: number;
  readonly action:
    | { readonly kind: 'status'; readonly status: number; readonly retryAfter?: RetryAfter }
    | { readonly kind: 'reset' }
    | undefined;
}

/** How an async-capable operation runs, when a fault says so. */
export type OperationFault = 'async' | 'stuck' | 'fail';

const MAX_TIMES = 1_000_000;

function parseRetryAfter(value: unknown): RetryAfter | undefined {
  if (value === undefined) return undefined;
  const record = requireRecord(value, 'retryAfter');
  rejectUnknownKeys(record, ['form', 'seconds'], 'retryAfter');
  return {
    form: requireOneOf(record.form, RETRY_AFTER_FORMS, 'retryAfter.form'),
    seconds: requireInteger(record.seconds, 'retryAfter.seconds', 0, 86_400),
  };
}

function withRetryAfter<T extends object>(
  fault: T,
  retryAfter: RetryAfter | undefined,
): T & { retryAfter?: RetryAfter } {
  return retryAfter === undefined ? fault : { ...fault, retryAfter };
}

/** Parses one fault from JSON (admin API, CLI config); throws InputError when invalid. */
export function parseFault(value: unknown): Fault {
  const record = requireRecord(value, 'fault');
  const kind = requireOneOf(record.kind, FAULT_KINDS, 'fault.kind');
  const times = (): number => requireInteger(record.times, 'fault.times', 1, MAX_TIMES);
  const status = (): number => requireInteger(record.status, 'fault.status', 400, 599);
  const route = (): Route => requireOneOf(record.route, ROUTES, 'fault.route');
  const asyncRoute = (): AsyncRoute => requireOneOf(record.route, ASYNC_ROUTES, 'fault.route');
  switch (kind) {
    case 'status':
      rejectUnknownKeys(record, ['kind', 'route', 'status', 'times', 'retryAfter'], 'fault');
      return withRetryAfter(
        { kind, route: route(), status: status(), times: times() },
        parseRetryAfter(record.retryAfter),
      );
    case 'errorRate':
      rejectUnknownKeys(record, ['kind', 'route', 'status', 'rate', 'seed', 'retryAfter'], 'fault');
      return withRetryAfter(
        {
          kind,
          route: route(),
          status: status(),
          rate: requireNumber(record.rate, 'fault.rate', 0, 1),
          seed: requireInteger(record.seed, 'fault.seed', 0, 0xffffffff),
        },
        parseRetryAfter(record.retryAfter),
      );
    case 'latency': {
      rejectUnknownKeys(record, ['kind', 'route', 'ms', 'times'], 'fault');
      const limited = optionalInteger(record.times, 'fault.times', 1, MAX_TIMES);
      const fault = { kind, route: route(), ms: requireInteger(record.ms, 'fault.ms', 0, 600_000) };
      return limited === undefined ? fault : { ...fault, times: limited };
    }
    case 'reset':
      rejectUnknownKeys(record, ['kind', 'route', 'times'], 'fault');
      return { kind, route: route(), times: times() };
    case 'async':
    case 'stuckOperation':
    case 'failOperation':
      rejectUnknownKeys(record, ['kind', 'route', 'times'], 'fault');
      return { kind, route: asyncRoute(), times: times() };
    case 'credential':
      rejectUnknownKeys(record, ['kind', 'defect', 'times'], 'fault');
      return {
        kind,
        defect: requireOneOf(record.defect, CREDENTIAL_DEFECTS, 'fault.defect'),
        times: times(),
      };
    case 'keystore': {
      rejectUnknownKeys(record, ['kind', 'defect', 'certificate', 'times'], 'fault');
      const limited = optionalInteger(record.times, 'fault.times', 1, MAX_TIMES);
      const fault = {
        kind,
        defect: requireOneOf(record.defect, KEYSTORE_DEFECTS, 'fault.defect'),
        certificate: requireString(record.certificate, 'fault.certificate'),
      };
      return limited === undefined ? fault : { ...fault, times: limited };
    }
  }
}

interface Entry {
  readonly id: string;
  readonly fault: Fault;
  remaining: number | undefined;
  fired: number;
  readonly random: Random | undefined;
}

function initialRemaining(fault: Fault): number | undefined {
  if (fault.kind === 'errorRate') return undefined;
  return fault.times;
}

export class FaultBook {
  #entries: Entry[] = [];
  #nextId = 1;
  readonly #onFire: (id: string) => void;

  /** `onFire` hears every firing, by fault id (the counters). */
  constructor(onFire: (id: string) => void = () => {}) {
    this.#onFire = onFire;
  }

  add(fault: Fault): string {
    const id = `fault-${this.#nextId++}`;
    if (
      (fault.kind === 'status' || fault.kind === 'errorRate') &&
      fault.status === 429 &&
      fault.retryAfter === undefined
    ) {
      // A 429 without Retry-After is legal HTTP, but every BTP 429 carries one.
      fault = { ...fault, retryAfter: { form: 'seconds', seconds: 1 } };
    }
    this.#entries.push({
      id,
      fault,
      remaining: initialRemaining(fault),
      fired: 0,
      random: fault.kind === 'errorRate' ? seededRandom(fault.seed) : undefined,
    });
    return id;
  }

  remove(id: string): boolean {
    const before = this.#entries.length;
    this.#entries = this.#entries.filter((entry) => entry.id !== id);
    return this.#entries.length !== before;
  }

  clear(): void {
    this.#entries = [];
  }

  list(): ActiveFault[] {
    return this.#entries.map(({ id, fault, remaining, fired }) => ({ id, fault, remaining, fired }));
  }

  /** Latency to add and the terminal action, if any, for one request of `route`. */
  onRequest(route: Route): RequestFaultDecision {
    let latencyMs = 0;
    let action: RequestFaultDecision['action'];
    for (const entry of [...this.#entries]) {
      const fault = entry.fault;
      if (fault.kind === 'credential' || fault.kind === 'keystore' || fault.route !== route) continue;
      switch (fault.kind) {
        case 'latency':
          latencyMs += fault.ms;
          this.#fire(entry);
          break;
        case 'status':
          if (action !== undefined) break;
          action = withRetryAfter({ kind: 'status' as const, status: fault.status }, fault.retryAfter);
          this.#fire(entry);
          break;
        case 'errorRate':
          if (action !== undefined || entry.random === undefined || entry.random() >= fault.rate) break;
          action = withRetryAfter({ kind: 'status' as const, status: fault.status }, fault.retryAfter);
          this.#fire(entry);
          break;
        case 'reset':
          if (action !== undefined) break;
          action = { kind: 'reset' };
          this.#fire(entry);
          break;
        default:
          break;
      }
    }
    return { latencyMs, action };
  }

  /** Consumes the first operation fault for `route`, if any. */
  takeOperationFault(route: AsyncRoute): OperationFault | undefined {
    const entry = this.#entries.find(
      (candidate) =>
        (candidate.fault.kind === 'async' ||
          candidate.fault.kind === 'stuckOperation' ||
          candidate.fault.kind === 'failOperation') &&
        candidate.fault.route === route,
    );
    if (entry === undefined) return undefined;
    this.#fire(entry);
    switch (entry.fault.kind) {
      case 'stuckOperation':
        return 'stuck';
      case 'failOperation':
        return 'fail';
      default:
        return 'async';
    }
  }

  /** Consumes the first credential fault, if any. */
  takeCredentialDefect(): CredentialDefect | undefined {
    const entry = this.#entries.find((candidate) => candidate.fault.kind === 'credential');
    if (entry === undefined || entry.fault.kind !== 'credential') return undefined;
    this.#fire(entry);
    return entry.fault.defect;
  }

  /** Consumes the first keystore fault for the stored certificate `name`, if any. */
  takeKeystoreDefect(name: string): KeystoreDefect | undefined {
    const entry = this.#entries.find(
      (candidate) => candidate.fault.kind === 'keystore' && candidate.fault.certificate === name,
    );
    if (entry === undefined || entry.fault.kind !== 'keystore') return undefined;
    this.#fire(entry);
    return entry.fault.defect;
  }

  #fire(entry: Entry): void {
    entry.fired += 1;
    this.#onFire(entry.id);
    if (entry.remaining === undefined) return;
    entry.remaining -= 1;
    if (entry.remaining <= 0) this.#entries = this.#entries.filter((candidate) => candidate !== entry);
  }
}
