// What this process keeps for the serviceManager source between reconciles: the Service Manager
// client each BTPCertificate last used, the credentials of its own bindings, and when each
// BTPCertificate was last swept for orphans. Owned by the controller; these methods are the only
// ones that touch it, and eviction happens here: when the finalizer is done (forget), and when the
// object is gone however it went (forgetKey: a finalizer removed by hand, a delete seen by another
// replica) or replaced by a new object of the same name (use).
//
// Credentials are kept per (Service Manager client, BTPCertificate uid) (ADR 0011): a client
// stands for one access credential (the factory keeps one per credential), so a binding ID that
// one tenant's Service Manager answered with can never serve, or be served from, another
// BTPCertificate's entry, nor the same BTPCertificate's entry under another access.

import type { ServiceManagerFactory, ServiceManagerPort, SmBinding } from '../sources/service-manager.ts';
import type { SmAccess } from '../sources/service-manager-access.ts';
import { bindingMismatch } from './bindings.ts';

/** How often each BTPCertificate's bindings are swept for orphans (besides after each rotation). */
export const ORPHAN_SWEEP_INTERVAL_MS = 6 * 60 * 60_000;

type Credentials = Readonly<Record<string, unknown>>;

/** What deleteBinding did: deleted (or found gone), or left alone because it is not this certificate's. */
export type Deletion = 'deleted' | 'not-owned';

export class ServiceManagerSessions {
  readonly #factory: ServiceManagerFactory;
  readonly #release: (port: ServiceManagerPort) => Promise<void>;
  /** By BTPCertificate uid: the client its bindings were seen through, and their credentials by
   * binding ID (saves a GET per reconcile). Only bindings that carry the uid's label get here. */
  readonly #credentials = new Map<
    string,
    { readonly sm: ServiceManagerPort; readonly byId: Map<string, Credentials> }
  >();
  /** The last client each BTPCertificate used, by uid: the finalizer still has it when the access
   * Secret went first (a namespace being deleted). */
  readonly #clients = new Map<string, ServiceManagerPort>();
  /** When each BTPCertificate (by uid) was last swept for orphaned bindings, in ms. */
  readonly #sweptAt = new Map<string, number>();
  /** The uid of each BTPCertificate (by namespace/name key) state is kept for: the controller
   * learns that an object is gone by its key. */
  readonly #uids = new Map<string, string>();

  constructor(factory: ServiceManagerFactory, release: (port: ServiceManagerPort) => Promise<void>) {
    this.#factory = factory;
    this.#release = release;
  }

  /** The client for an access credential, without recording it (the finalizer). */
  client(access: SmAccess): ServiceManagerPort {
    return this.#factory(access);
  }

  /**
   * The client a BTPCertificate (key namespace/name, uid) uses now, recorded as its last; a client
   * it used before and no other certificate uses is closed (the access credential was replaced).
   * What was kept for an earlier object of the same key is dropped: that object is gone.
   */
  async use(key: string, uid: string, access: SmAccess): Promise<ServiceManagerPort> {
    const earlier = this.#uids.get(key);
    if (earlier !== undefined && earlier !== uid) await this.forget(earlier);
    this.#uids.set(key, uid);
    const sm = this.#factory(access);
    const previous = this.#clients.get(uid);
    this.#clients.set(uid, sm);
    if (previous !== undefined && previous !== sm) await this.#releaseUnused(previous);
    return sm;
  }

  /** The client a BTPCertificate used last in this process, if any. */
  lastClient(uid: string): ServiceManagerPort | undefined {
    return this.#clients.get(uid);
  }

  /** Credentials this BTPCertificate's binding was seen with through this client; undefined: ask. */
  credentials(sm: ServiceManagerPort, uid: string, bindingId: string): Credentials | undefined {
    const held = this.#credentials.get(uid);
    return held?.sm === sm ? held.byId.get(bindingId) : undefined;
  }

  /**
   * Keeps a binding's credentials for this BTPCertificate and client. The caller has checked it
   * (bindingMismatch); one that does not carry the uid label is refused here too. Entries kept
   * through another client are dropped: the access changed.
   */
  remember(sm: ServiceManagerPort, uid: string, binding: SmBinding): void {
    if (bindingMismatch(binding, { uid }) !== undefined) return;
    let held = this.#credentials.get(uid);
    if (held?.sm !== sm) {
      held = { sm, byId: new Map() };
      this.#credentials.set(uid, held);
    }
    held.byId.set(binding.id, binding.credentials);
  }

  /**
   * Deletes a binding of this BTPCertificate in BTP and forgets its credentials. A binding not
   * seen through this client is looked up first and deleted only if its labels name the
   * certificate; one that does not is left alone ('not-owned'), one already gone is fine.
   */
  async deleteBinding(sm: ServiceManagerPort, uid: string, bindingId: string): Promise<Deletion> {
    if (this.credentials(sm, uid, bindingId) === undefined) {
      const binding = await sm.getBinding(bindingId);
      if (binding !== undefined && bindingMismatch(binding, { uid, id: bindingId }) !== undefined) {
        return 'not-owned';
      }
      if (binding === undefined) return 'deleted';
    }
    await sm.deleteBinding(bindingId);
    this.#credentials.get(uid)?.byId.delete(bindingId);
    return 'deleted';
  }

  /** When the BTPCertificate was last swept in this process (ms); undefined: not yet. */
  lastSweep(uid: string): number | undefined {
    return this.#sweptAt.get(uid);
  }

  swept(uid: string, atMs: number): void {
    this.#sweptAt.set(uid, atMs);
  }

  /** Whether anything is kept for this BTPCertificate uid (a client, credentials, a sweep time). */
  holds(uid: string): boolean {
    return this.#clients.has(uid) || this.#credentials.has(uid) || this.#sweptAt.has(uid);
  }

  /** Drops what is kept for a BTPCertificate whose finalizer is done; closes a client no other uses. */
  async forget(uid: string): Promise<void> {
    const sm = this.#clients.get(uid);
    this.#clients.delete(uid);
    this.#sweptAt.delete(uid);
    this.#credentials.delete(uid);
    for (const [key, held] of this.#uids) if (held === uid) this.#uids.delete(key);
    if (sm !== undefined) await this.#releaseUnused(sm);
  }

  /** Drops what is kept for the BTPCertificate of this key: it is gone, finalized or not. */
  async forgetKey(key: string): Promise<void> {
    const uid = this.#uids.get(key);
    if (uid !== undefined) await this.forget(uid);
  }

  async #releaseUnused(sm: ServiceManagerPort): Promise<void> {
    if (![...this.#clients.values()].includes(sm)) await this.#release(sm);
  }
}
