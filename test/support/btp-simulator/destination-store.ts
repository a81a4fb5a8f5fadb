// The Destination service's state (btp.md §6): destinations and stored certificate files, at the
// subaccount level and per Destination service instance, and the certificates the service issues
// itself (generated, or signed from a CSR) with the other tenant's CA, renewed automatically on
// the simulator clock.
//
// Automatic renewal: a generated certificate with AutomaticRenew is renewed when
// `renewBeforeMs(lifetime)` = min(lifetime / 2, 30 days) is left before its notAfter (the
// documented points: 12 h for a 1-day certificate, 30 days for a yearly one). It happens at that
// instant on the simulator clock, however late someone looks: the renewed certificate's notBefore
// is the renewal instant (to the second), and a clock moved over several periods renews several
// times. A key the service generated is replaced on renewal; a CSR's key is signed again (the
// service never had the private key).
import { createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import type { Clock } from './clock.ts';
import { InputError } from './input.ts';
import type { KeyPool } from './key-pool.ts';
import {
  buildKeystore,
  certificateFingerprints,
  formatOfName,
  type KeyMaterial,
  type KeystoreFormat,
  p12Keystore,
} from './keystores.ts';
import { notAfterFor, type Validity } from './lifetime.ts';
import type { OAuthClient } from './oauth-clients.ts';
import type { Pki } from './pki.ts';
import type { DistinguishedName } from './x509.ts';

const DAY_MS = 86_400_000;
/** Renewals one read may catch up on (a clock moved years ahead). */
const MAX_CATCH_UP = 1000;

export const CERTIFICATE_LEVELS = ['subaccount', 'instance'] as const;
export type CertificateLevel = (typeof CERTIFICATE_LEVELS)[number];

/** Where a destination or file lives: the subaccount, or one Destination service instance. */
export interface Owner {
  readonly level: CertificateLevel;
  /** The instance id for `instance`. */
  readonly instanceId?: string | undefined;
}

/** How long before notAfter an automatically renewed certificate is renewed. */
export function renewBeforeMs(lifetimeMs: number): number {
  return Math.min(lifetimeMs / 2, 30 * DAY_MS);
}

export interface Generation {
  readonly commonName: string;
  readonly validity: Validity;
  readonly automaticRenew: boolean;
  /** The CSR's public key (PEM); undefined when the service generates the key. */
  readonly csrPublicKeyPem: string | undefined;
}

export interface StoredFile {
  readonly name: string;
  readonly owner: Owner;
  type: string;
  content: Buffer;
  /** Key and chain, when the simulator built the file (to re-encrypt it for wrongPassword). */
  material: KeyMaterial | undefined;
  /** The password a PKCS#12 the simulator built is encrypted with. */
  readonly password: string | undefined;
  readonly generation: Generation | undefined;
  /** Of the current leaf, when the simulator issued it. */
  notBefore: Date | undefined;
  notAfter: Date | undefined;
  fingerprint256: string | undefined;
  /** Every leaf the service issued for this file (renewals keep the old ones, until it is deleted). */
  readonly issuedFingerprints: Set<string>;
  renewals: number;
}

/** What tests and the admin API see of a stored file: never its content. */
export interface StoredCertificateSummary {
  readonly name: string;
  readonly level: CertificateLevel;
  readonly instanceId: string | null;
  readonly type: string;
  readonly size: number;
  readonly generated: boolean;
  readonly automaticRenew: boolean;
  readonly fromCsr: boolean;
  readonly notBefore: string | null;
  readonly notAfter: string | null;
  readonly fingerprint256: string | null;
  readonly renewals: number;
}

export interface SeedRequest {
  readonly name: string;
  readonly owner?: Owner;
  /** From the name when absent (`.p12`/`.pfx`, `.jks`, else PEM). */
  readonly format?: KeystoreFormat;
  /** For PKCS#12 (default `changeit`). */
  readonly password?: string;
  readonly commonName?: string;
  /** Default 30 days. */
  readonly validitySeconds?: number;
}

export interface SeededCertificate {
  readonly name: string;
  readonly content: Buffer;
  readonly password: string;
  /** Leaf, intermediate, root (PEM). */
  readonly chainPem: string;
  readonly keyPem: string;
  readonly fingerprint256: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
}

export const DEFAULT_KEYSTORE_PASSWORD = 'changeit';

function ownerKey(owner: Owner): string {
  if (owner.level === 'subaccount') return 'subaccount';
  if (owner.instanceId === undefined) throw new InputError('an instance-level owner needs an instance id');
  return `instance:${owner.instanceId}`;
}

function subject(commonName: string): DistinguishedName {
  return [
    ['C', 'DE'],
    ['O', 'Other Tenant Org'],
    ['OU', 'Destination Service'],
    ['CN', commonName],
  ];
}

export class DestinationStore {
  readonly #clock: Clock;
  readonly #pki: Pki;
  readonly #keyPool: KeyPool;
  readonly #autoRenew: () => boolean;
  readonly #files = new Map<string, Map<string, StoredFile>>();
  readonly #destinations = new Map<string, Map<string, Readonly<Record<string, string>>>>();

  /** `pki` is the issuing CA: the other tenant's, whose XSUAA trusts what it signs. */
  constructor(options: { clock: Clock; pki: Pki; keyPool: KeyPool; autoRenew: () => boolean }) {
    this.#clock = options.clock;
    this.#pki = options.pki;
    this.#keyPool = options.keyPool;
    this.#autoRenew = options.autoRenew;
  }

  // --- destinations ---

  putDestination(owner: Owner, configuration: Readonly<Record<string, string>>): void {
    const name = configuration.Name;
    if (name === undefined || name === '') throw new InputError('a destination needs a Name');
    let byName = this.#destinations.get(ownerKey(owner));
    if (byName === undefined) {
      byName = new Map();
      this.#destinations.set(ownerKey(owner), byName);
    }
    byName.set(name, { ...configuration });
  }

  removeDestination(owner: Owner, name: string): boolean {
    return this.#destinations.get(ownerKey(owner))?.delete(name) ?? false;
  }

  /** find-destination's order: the caller's instance first, then the subaccount. */
  findDestination(
    name: string,
    instanceId: string | undefined,
  ): { readonly owner: Owner; readonly configuration: Readonly<Record<string, string>> } | undefined {
    const owners: Owner[] = [
      ...(instanceId === undefined ? [] : [{ level: 'instance', instanceId } as const]),
      { level: 'subaccount' },
    ];
    for (const owner of owners) {
      const configuration = this.#destinations.get(ownerKey(owner))?.get(name);
      if (configuration !== undefined) return { owner, configuration };
    }
    return undefined;
  }

  /** Every destination, with where it lives. */
  destinations(): { readonly owner: Owner; readonly configuration: Readonly<Record<string, string>> }[] {
    return [...this.#destinations].flatMap(([key, byName]) => {
      const owner: Owner =
        key === 'subaccount'
          ? { level: 'subaccount' }
          : { level: 'instance', instanceId: key.slice('instance:'.length) };
      return [...byName.values()].map((configuration) => ({ owner, configuration }));
    });
  }

  // --- stored files ---

  file(owner: Owner, name: string): StoredFile | undefined {
    const found = this.#files.get(ownerKey(owner))?.get(name);
    if (found !== undefined) this.#renewIfDue(found);
    return found;
  }

  /** A file a destination names: at the destination's own level first, then the subaccount's. */
  fileFor(owner: Owner, name: string): StoredFile | undefined {
    return (
      this.file(owner, name) ??
      (owner.level === 'instance' ? this.file({ level: 'subaccount' }, name) : undefined)
    );
  }

  files(owner: Owner): StoredFile[] {
    const found = [...(this.#files.get(ownerKey(owner))?.values() ?? [])];
    for (const file of found) this.#renewIfDue(file);
    return found;
  }

  allFiles(): StoredFile[] {
    return [...this.#files.values()].flatMap((byName) => [...byName.values()]);
  }

  removeFile(owner: Owner, name: string): boolean {
    return this.#files.get(ownerKey(owner))?.delete(name) ?? false;
  }

  /** An uploaded file, stored as given; 409 semantics are the caller's (`has`). */
  upload(owner: Owner, name: string, type: string, content: Buffer): StoredFile {
    return this.#add({
      name,
      owner,
      type,
      content,
      material: undefined,
      password: undefined,
      generation: undefined,
      notBefore: undefined,
      notAfter: undefined,
      fingerprint256: undefined,
      issuedFingerprints: new Set(),
      renewals: 0,
    });
  }

  has(owner: Owner, name: string): boolean {
    return this.#files.get(ownerKey(owner))?.has(name) ?? false;
  }

  /** POST with Attributes: the service issues the certificate (PEM: chain, plus the key it generated). */
  async generate(owner: Owner, name: string, generation: Generation): Promise<StoredFile> {
    const now = new Date(Math.floor(this.#clock.now() / 1000) * 1000);
    const file = this.#add({
      name,
      owner,
      type: 'CERTIFICATE',
      content: Buffer.alloc(0),
      material: undefined,
      password: undefined,
      generation,
      notBefore: undefined,
      notAfter: undefined,
      fingerprint256: undefined,
      issuedFingerprints: new Set(),
      renewals: 0,
    });
    try {
      await this.#issueVersion(file, now);
    } catch (error) {
      this.removeFile(owner, name);
      throw error;
    }
    return file;
  }

  /** A keystore the simulator builds and stores directly (test setup): key and chain from the issuing CA. */
  async seed(request: SeedRequest): Promise<SeededCertificate> {
    const owner = request.owner ?? { level: 'subaccount' };
    const format = request.format ?? formatOfName(request.name);
    const password = request.password ?? DEFAULT_KEYSTORE_PASSWORD;
    const notBefore = new Date(Math.floor(this.#clock.now() / 1000) * 1000);
    const notAfter = new Date(notBefore.getTime() + (request.validitySeconds ?? 30 * 86_400) * 1000);
    const keyPair = await this.#keyPool.take(2048);
    const issued = this.#pki.issueForPublicKey({
      publicKey: keyPair.publicKey,
      subject: subject(request.commonName ?? request.name),
      notBefore,
      notAfter,
    });
    const material = {
      chain: issued.chain,
      keyPem: keyPair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    };
    const content = buildKeystore(format, material, password);
    this.#add({
      name: request.name,
      owner,
      type: 'CERTIFICATE',
      content,
      material,
      password: format === 'p12' ? password : undefined,
      generation: undefined,
      notBefore,
      notAfter,
      fingerprint256: issued.fingerprint256,
      issuedFingerprints: new Set([issued.fingerprint256]),
      renewals: 0,
    });
    return {
      name: request.name,
      content,
      password,
      chainPem: issued.chain.join(''),
      keyPem: material.keyPem,
      fingerprint256: issued.fingerprint256,
      notBefore,
      notAfter,
    };
  }

  /** The file under another password than it was stored with (the wrongPassword defect). */
  withOtherPassword(file: StoredFile): Buffer | undefined {
    if (file.material === undefined || formatOfName(file.name) !== 'p12') return undefined;
    return p12Keystore(file.material, `${file.password ?? DEFAULT_KEYSTORE_PASSWORD}-not-this-one`);
  }

  /** The fingerprints a file stands for: what the service issued for it, and what it holds now. */
  fingerprints(file: StoredFile, password: string | undefined): ReadonlySet<string> {
    return new Set([...file.issuedFingerprints, ...certificateFingerprints(file.content, password)]);
  }

  summary(file: StoredFile): StoredCertificateSummary {
    return {
      name: file.name,
      level: file.owner.level,
      instanceId: file.owner.instanceId ?? null,
      type: file.type,
      size: file.content.length,
      generated: file.generation !== undefined,
      automaticRenew: file.generation?.automaticRenew ?? false,
      fromCsr: file.generation?.csrPublicKeyPem !== undefined,
      notBefore: file.notBefore?.toISOString() ?? null,
      notAfter: file.notAfter?.toISOString() ?? null,
      fingerprint256: file.fingerprint256 ?? null,
      renewals: file.renewals,
    };
  }

  #add(file: StoredFile): StoredFile {
    let byName = this.#files.get(ownerKey(file.owner));
    if (byName === undefined) {
      byName = new Map();
      this.#files.set(ownerKey(file.owner), byName);
    }
    byName.set(file.name, file);
    return file;
  }

  async #issueVersion(file: StoredFile, notBefore: Date): Promise<void> {
    const generation = file.generation;
    if (generation === undefined) return;
    const notAfter = notAfterFor(notBefore, generation.validity);
    if (generation.csrPublicKeyPem !== undefined) {
      this.#signVersion(file, createPublicKey(generation.csrPublicKeyPem), undefined, notBefore, notAfter);
      return;
    }
    const keyPair = await this.#keyPool.take(2048);
    this.#signVersion(
      file,
      keyPair.publicKey,
      keyPair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      notBefore,
      notAfter,
    );
  }

  #signVersion(
    file: StoredFile,
    publicKey: KeyObject,
    keyPem: string | undefined,
    notBefore: Date,
    notAfter: Date,
  ): void {
    const issued = this.#pki.issueForPublicKey({
      publicKey,
      subject: subject(file.generation?.commonName ?? file.name),
      notBefore,
      notAfter,
    });
    const chainPem = issued.chain.join('');
    file.material = keyPem === undefined ? undefined : { chain: issued.chain, keyPem };
    file.content = Buffer.from(keyPem === undefined ? chainPem : chainPem + keyPem, 'utf8');
    file.notBefore = notBefore;
    file.notAfter = notAfter;
    file.fingerprint256 = issued.fingerprint256;
    file.issuedFingerprints.add(issued.fingerprint256);
  }

  /**
   * Renews a due certificate at its renewal instant(s), when it is read. Synchronous (reads are):
   * a key the service generates for a renewal comes from generateKeyPairSync, not the pool.
   */
  #renewIfDue(file: StoredFile): void {
    const generation = file.generation;
    if (generation === undefined || !generation.automaticRenew || !this.#autoRenew()) return;
    for (let round = 0; round < MAX_CATCH_UP; round += 1) {
      const { notBefore, notAfter } = file;
      if (notBefore === undefined || notAfter === undefined) return;
      const lifetimeMs = notAfter.getTime() - notBefore.getTime();
      const dueMs = notAfter.getTime() - renewBeforeMs(lifetimeMs);
      if (dueMs > this.#clock.now()) return;
      const at = new Date(Math.floor(dueMs / 1000) * 1000);
      const next = notAfterFor(at, generation.validity);
      if (generation.csrPublicKeyPem !== undefined) {
        this.#signVersion(file, createPublicKey(generation.csrPublicKeyPem), undefined, at, next);
      } else {
        const keyPair = generateKeyPairSync('rsa', { modulusLength: 2048 });
        this.#signVersion(
          file,
          keyPair.publicKey,
          keyPair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
          at,
          next,
        );
      }
      file.renewals += 1;
    }
  }
}

/**
 * The other tenant's OAuth clients: the `clientId` of every destination, with the certificates
 * of the file its keystore location names (the version now stored, and every version the service
 * issued for it). Deleting the file or the destination revokes them.
 */
export function destinationClients(store: DestinationStore, scopes: readonly string[]) {
  const keystoreOf = (owner: Owner, configuration: Readonly<Record<string, string>>) => {
    const location = configuration['tokenService.KeyStoreLocation'] ?? configuration.KeyStoreLocation;
    return location === undefined ? undefined : store.fileFor(owner, location);
  };
  const passwordOf = (configuration: Readonly<Record<string, string>>) =>
    configuration['tokenService.KeyStorePassword'] ?? configuration.KeyStorePassword;
  return {
    find(clientId: string): OAuthClient | undefined {
      const found = store.destinations().find(({ configuration }) => configuration.clientId === clientId);
      if (found === undefined) return undefined;
      const file = keystoreOf(found.owner, found.configuration);
      const fingerprints =
        file === undefined ? new Set<string>() : store.fingerprints(file, passwordOf(found.configuration));
      return { kind: 'x509', clientId, fingerprints, scopes };
    },
    clientIdForCertificate(fingerprint256: string): string | undefined {
      for (const { owner, configuration } of store.destinations()) {
        const clientId = configuration.clientId;
        if (clientId === undefined) continue;
        const file = keystoreOf(owner, configuration);
        if (file !== undefined && store.fingerprints(file, passwordOf(configuration)).has(fingerprint256)) {
          return clientId;
        }
      }
      return undefined;
    },
  };
}
