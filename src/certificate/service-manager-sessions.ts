// What this process keeps for the serviceManager source between reconciles: the Service Manager
// client each BTPCertificate last used, the credentials of bindings it has seen, and when each
// BTPCertificate was last swept for orphans. Owned by the controller; these methods are the only
// ones that touch it, and eviction happens here.

import type { ServiceManagerFactory, ServiceManagerPort } from '../sources/service-manager.ts';
import type { SmAccess } from '../sources/service-manager-access.ts';

/** How often each BTPCertificate's bindings are swept for orphans (besides after each rotation). */
export const ORPHAN_SWEEP_INTERVAL_MS = 6 * 60 * 60_000;

export class ServiceManagerSessions {
  readonly #factory: ServiceManagerFactory;
  readonly #release: (port: ServiceManagerPort) => Promise<void>;
  /** Credentials of bindings this process has seen, by binding ID (saves a GET per reconcile). */
  readonly #credentials = new Map<string, Readonly<Record<string, unknown>>>();
  /** The last client each BTPCertificate used, by uid: the finalizer still has it when the access
   * Secret went first (a namespace being deleted). */
  readonly #clients = new Map<string, ServiceManagerPort>();
  /** When each BTPCertificate (by uid) was last swept for orphaned bindings, in ms. */
  readonly #sweptAt = new Map<string, number>();

  constructor(factory: ServiceManagerFactory, release: (port: ServiceManagerPort) => Promise<void>) {
    this.#factory = factory;
    this.#release = release;
  }

  /** The client for an access credential, without recording it (the finalizer). */
  client(access: SmAccess): ServiceManagerPort {
    return this.#factory(access);
  }

  /**
   * The client a BTPCertificate uses now, recorded as its last; a client it used before and no
   * other certificate uses is closed (the access credential was replaced).
   */
  async use(uid: string, access: SmAccess): Promise<ServiceManagerPort> {
    const sm = this.#factory(access);
    const previous = this.#clients.get(uid);
    this.#clients.set(uid, sm);
    if (previous !== undefined && previous !== sm && ![...this.#clients.values()].includes(previous)) {
      await this.#release(previous);
    }
    return sm;
  }

  /** The client a BTPCertificate used last in this process, if any. */
  lastClient(uid: string): ServiceManagerPort | undefined {
    return this.#clients.get(uid);
  }

  credentials(bindingId: string): Readonly<Record<string, unknown>> | undefined {
    return this.#credentials.get(bindingId);
  }

  remember(bindingId: string, credentials: Readonly<Record<string, unknown>>): void {
    this.#credentials.set(bindingId, credentials);
  }

  /** Deletes a binding in BTP and forgets its credentials. */
  async deleteBinding(sm: ServiceManagerPort, bindingId: string): Promise<void> {
    await sm.deleteBinding(bindingId);
    this.#credentials.delete(bindingId);
  }

  /** When the BTPCertificate was last swept in this process (ms); undefined: not yet. */
  lastSweep(uid: string): number | undefined {
    return this.#sweptAt.get(uid);
  }

  swept(uid: string, atMs: number): void {
    this.#sweptAt.set(uid, atMs);
  }

  /** Drops what is kept for a BTPCertificate whose finalizer is done. */
  forget(uid: string): void {
    this.#clients.delete(uid);
    this.#sweptAt.delete(uid);
  }
}
