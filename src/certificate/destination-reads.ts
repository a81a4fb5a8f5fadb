// What this process keeps for the destination source between reconciles, and when it reads the
// Destination service again. Reading at every reconcile would send one request per reconcile of
// every destination certificate (a resync of all of them at once); the answer is kept per
// BTPCertificate with the client (access credential) and the spec it was read for, and read again:
// - at least every READ_INTERVAL_MS, and at the renewal time: the Destination service renews the
//   certificates it generated itself (12 h before expiry for 1-day certificates, up to 30 days for
//   yearly ones), and the new one is picked up before this resource's renewal is due;
// - after the renewal time, every rotationRetryMs (a share of the lifetime, 10 s to 15 min), until
//   a renewed certificate appears; the renewal-trigger chain reports Expiring when none has by 10 %
//   of the lifetime before notAfter.
import type { BTPCertificate } from '../api/types.ts';
import type {
  DestinationAccess,
  DestinationFactory,
  DestinationPort,
  FoundDestination,
  StoredCertificate,
} from '../sources/destination-port.ts';
import type { GenerateAttempt } from './destination-generate.ts';
import { rotationRetryMs } from './policies/renewal-trigger.ts';

/** The longest time between two reads of a destination source's answer. */
export const READ_INTERVAL_MS = 60 * 60_000;

export type DestinationAnswer =
  | { readonly kind: 'destination'; readonly found: FoundDestination }
  | { readonly kind: 'certificate'; readonly file: StoredCertificate };

export type LastRead = {
  readonly port: DestinationPort;
  /** The spec of the source it was read for (JSON). */
  readonly spec: string;
  readonly at: Date;
  readonly answer: DestinationAnswer;
  /** A read after `at` failed and is tried again then. */
  readonly retryAt?: Date;
};

/** When a kept answer is read again. */
export const readDueAt = (cert: BTPCertificate, read: LastRead): Date =>
  read.retryAt ?? nextReadAt(cert, read.at);

/** When the answer read at `readAt` is read again. Pure. */
export function nextReadAt(cert: BTPCertificate, readAt: Date): Date {
  const regular = new Date(readAt.getTime() + READ_INTERVAL_MS);
  const st = cert.status;
  if (st?.renewalTime === undefined || st.notBefore === undefined || st.notAfter === undefined)
    return regular;
  const renewAt = new Date(st.renewalTime);
  if (readAt < renewAt) return renewAt < regular ? renewAt : regular;
  return new Date(readAt.getTime() + rotationRetryMs(new Date(st.notBefore), new Date(st.notAfter), readAt));
}

/** The spec a kept answer is valid for: another name, level or access means another read. */
export const readSpec = (cert: BTPCertificate): string =>
  JSON.stringify(cert.spec.source.destination ?? null);

/** What a BTPCertificate's state is kept under: namespace/name, the key its reconciles and forget get. */
export const sessionKey = (cert: BTPCertificate): string =>
  `${cert.metadata.namespace}/${cert.metadata.name}`;

/** An entry and the uid of the BTPCertificate it is for: one created again under the name is another. */
type Kept<T> = { readonly uid: string; readonly value: T };

/**
 * The Destination service clients BTPCertificates use and their last answers, by namespace/name;
 * answers and failed generations carry the uid they are for, and one of a deleted BTPCertificate
 * is not handed to a new one of the same name (its delete and create may come as one reconcile,
 * which never forgets). Owned by the controller; these methods are the only ones that touch it.
 */
export class DestinationSessions {
  readonly #factory: DestinationFactory;
  readonly #release: (port: DestinationPort) => Promise<void>;
  readonly #clients = new Map<string, DestinationPort>();
  readonly #reads = new Map<string, Kept<LastRead>>();
  readonly #attempts = new Map<string, Kept<GenerateAttempt>>();

  /** The last failed generation of a certificate, and when to try again. */
  readonly attempts = {
    get: (cert: BTPCertificate): GenerateAttempt | undefined =>
      mine(this.#attempts.get(sessionKey(cert)), cert),
    set: (cert: BTPCertificate, attempt: GenerateAttempt | undefined): void => {
      if (attempt === undefined) this.#attempts.delete(sessionKey(cert));
      else this.#attempts.set(sessionKey(cert), { uid: cert.metadata.uid, value: attempt });
    },
  };

  constructor(factory: DestinationFactory, release: (port: DestinationPort) => Promise<void>) {
    this.#factory = factory;
    this.#release = release;
  }

  /** The client for this access, recorded as the certificate's; one no certificate uses any more is closed. */
  async use(cert: BTPCertificate, access: DestinationAccess): Promise<DestinationPort> {
    const key = sessionKey(cert);
    const port = this.#factory(access);
    const previous = this.#clients.get(key);
    this.#clients.set(key, port);
    if (previous !== undefined && previous !== port) await this.#releaseUnused(previous);
    return port;
  }

  /** The answer kept for the certificate, if it was read through `port` for this spec. */
  lastRead(cert: BTPCertificate, port: DestinationPort, spec: string): LastRead | undefined {
    const read = mine(this.#reads.get(sessionKey(cert)), cert);
    return read?.port === port && read.spec === spec ? read : undefined;
  }

  remember(cert: BTPCertificate, read: LastRead): void {
    this.#reads.set(sessionKey(cert), { uid: cert.metadata.uid, value: read });
  }

  /** Drops what is kept for a BTPCertificate that is gone. */
  async forget(key: string): Promise<void> {
    const port = this.#clients.get(key);
    this.#clients.delete(key);
    this.#reads.delete(key);
    this.#attempts.delete(key);
    if (port !== undefined) await this.#releaseUnused(port);
  }

  async #releaseUnused(port: DestinationPort): Promise<void> {
    if (![...this.#clients.values()].includes(port)) await this.#release(port);
  }
}

const mine = <T>(kept: Kept<T> | undefined, cert: BTPCertificate): T | undefined =>
  kept?.uid === cert.metadata.uid ? kept.value : undefined;
