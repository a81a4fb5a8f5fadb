// The simulator's certificate authorities: root -> intermediate -> leaf, like the SAP client
// CA chain in btp.md section 2. One hierarchy signs the HTTPS server certificates and the
// binding (client) certificates; a second, "foreign" hierarchy is created on demand for the
// foreignCa credential fault. The operator trusts the simulator only through caBundlePem.
import { createHash, type KeyObject, randomBytes } from 'node:crypto';
import type { Clock } from './clock.ts';
import { generateRsaKeyPair, type KeyLength, type KeyPair, type KeyPool } from './key-pool.ts';
import {
  buildCertificate,
  type CertificateProfile,
  type DistinguishedName,
  keyIdentifier,
  randomSerialHex,
} from './x509.ts';

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

export interface CertificateAuthority {
  readonly name: DistinguishedName;
  readonly privateKey: KeyObject;
  readonly keyId: Buffer;
  readonly certificatePem: string;
}

export interface Hierarchy {
  readonly root: CertificateAuthority;
  readonly intermediate: CertificateAuthority;
}

export interface LeafRequest {
  /** The subject's public key. */
  readonly publicKey: KeyObject;
  readonly subject: DistinguishedName;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly profile: CertificateProfile;
}

export interface IssuedLeaf {
  readonly certificatePem: string;
  /** SHA-256 of the DER, colon-separated upper-case hex (Node's fingerprint256 form). */
  readonly fingerprint256: string;
  readonly serialHex: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
}

export interface ServerIdentity {
  /** PKCS#8 PEM of the server key. */
  readonly keyPem: string;
  /** Server leaf followed by the intermediate. */
  readonly certificateChainPem: string;
}

export function fingerprint256(der: Buffer): string {
  return createHash('sha256').update(der).digest('hex').toUpperCase().match(/../g)?.join(':') ?? '';
}

export function issueLeaf(issuer: CertificateAuthority, request: LeafRequest): IssuedLeaf {
  const serialHex = randomSerialHex(randomBytes);
  const built = buildCertificate({
    subject: request.subject,
    issuer: issuer.name,
    serialHex,
    notBefore: request.notBefore,
    notAfter: request.notAfter,
    publicKey: request.publicKey,
    signingKey: issuer.privateKey,
    authorityKeyId: issuer.keyId,
    profile: request.profile,
  });
  return {
    certificatePem: built.pem,
    fingerprint256: fingerprint256(built.der),
    serialHex,
    notBefore: request.notBefore,
    notAfter: request.notAfter,
  };
}

/** A CA certificate for `keys`, signed by `issuer` (self-signed when undefined). */
function certificateAuthority(
  keys: KeyPair,
  name: DistinguishedName,
  issuer: CertificateAuthority | undefined,
  options: { readonly pathLength: number; readonly notBefore: Date; readonly notAfter: Date },
): CertificateAuthority {
  const keyId = keyIdentifier(keys.publicKey);
  const certificate = buildCertificate({
    subject: name,
    issuer: issuer?.name ?? name,
    serialHex: randomSerialHex(randomBytes),
    notBefore: options.notBefore,
    notAfter: options.notAfter,
    publicKey: keys.publicKey,
    signingKey: issuer?.privateKey ?? keys.privateKey,
    authorityKeyId: issuer?.keyId ?? keyId,
    profile: { kind: 'ca', pathLength: options.pathLength },
  });
  return { name, privateKey: keys.privateKey, keyId, certificatePem: certificate.pem };
}

async function createHierarchy(clock: Clock, label: string, organization: string): Promise<Hierarchy> {
  const [rootKeys, intermediateKeys] = await Promise.all([
    generateRsaKeyPair(2048),
    generateRsaKeyPair(2048),
  ]);
  const now = clock.now();
  const root = certificateAuthority(
    rootKeys,
    [
      ['C', 'DE'],
      ['O', organization],
      ['OU', 'BTP Simulator'],
      ['CN', `${label} Root CA`],
    ],
    undefined,
    { pathLength: 1, notBefore: new Date(now - HOUR_MS), notAfter: new Date(now + 3650 * DAY_MS) },
  );
  const intermediate = certificateAuthority(
    intermediateKeys,
    [
      ['C', 'DE'],
      ['L', 'Simulator'],
      ['O', organization],
      ['OU', 'BTP Simulator'],
      ['CN', `${label} Client CA`],
    ],
    root,
    { pathLength: 0, notBefore: new Date(now - HOUR_MS), notAfter: new Date(now + 1825 * DAY_MS) },
  );
  return { root, intermediate };
}

export interface IssueClientOptions {
  readonly keyLength: KeyLength;
  readonly subject: DistinguishedName;
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** Sign with the foreign hierarchy instead of the simulator's own. */
  readonly foreign?: boolean;
}

export interface IssuedClientCertificate extends IssuedLeaf {
  readonly keyPair: KeyPair;
  /** Leaf, intermediate, root of the hierarchy that signed it. */
  readonly chain: readonly [string, string, string];
}

/** A clientAuth leaf from the hierarchy's intermediate, with its chain up to the root. */
function clientLeaf(
  hierarchy: Hierarchy,
  publicKey: KeyObject,
  options: { readonly subject: DistinguishedName; readonly notBefore: Date; readonly notAfter: Date },
): IssuedLeaf & { readonly chain: readonly [string, string, string] } {
  const leaf = issueLeaf(hierarchy.intermediate, {
    publicKey,
    subject: options.subject,
    notBefore: options.notBefore,
    notAfter: options.notAfter,
    profile: { kind: 'client' },
  });
  return {
    ...leaf,
    chain: [leaf.certificatePem, hierarchy.intermediate.certificatePem, hierarchy.root.certificatePem],
  };
}

export class Pki {
  readonly #clock: Clock;
  readonly #keyPool: KeyPool;
  readonly #own: Hierarchy;
  #foreign: Promise<Hierarchy> | undefined;

  private constructor(clock: Clock, keyPool: KeyPool, own: Hierarchy) {
    this.#clock = clock;
    this.#keyPool = keyPool;
    this.#own = own;
  }

  /** `names`: the hierarchy's CN prefix and organisation (another tenant's CA has its own). */
  static async create(
    clock: Clock,
    keyPool: KeyPool,
    names: { readonly label: string; readonly organization: string } = {
      label: 'BTP Simulator',
      organization: 'SAP SE',
    },
  ): Promise<Pki> {
    return new Pki(clock, keyPool, await createHierarchy(clock, names.label, names.organization));
  }

  /** A client certificate for a key the caller holds (a CSR's public key); chain leaf first. */
  issueForPublicKey(options: {
    readonly publicKey: KeyObject;
    readonly subject: DistinguishedName;
    readonly notBefore: Date;
    readonly notAfter: Date;
  }): IssuedLeaf & { readonly chain: readonly [string, string, string] } {
    return clientLeaf(this.#own, options.publicKey, options);
  }

  /** The trust anchor for the simulator's servers and for its client certificates. */
  get rootPem(): string {
    return this.#own.root.certificatePem;
  }

  get intermediatePem(): string {
    return this.#own.intermediate.certificatePem;
  }

  /** One server identity for every HTTPS endpoint: SANs DNS:localhost, IP:127.0.0.1, IP:::1. */
  async serverIdentity(): Promise<ServerIdentity> {
    const keyPair = await generateRsaKeyPair(2048);
    const now = this.#clock.now();
    const leaf = issueLeaf(this.#own.intermediate, {
      publicKey: keyPair.publicKey,
      subject: [
        ['C', 'DE'],
        ['O', 'SAP SE'],
        ['CN', 'localhost'],
      ],
      notBefore: new Date(now - HOUR_MS),
      notAfter: new Date(now + 365 * DAY_MS),
      profile: { kind: 'server', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1', '::1'] },
    });
    return {
      keyPem: keyPair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      certificateChainPem: leaf.certificatePem + this.#own.intermediate.certificatePem,
    };
  }

  async issueClientCertificate(options: IssueClientOptions): Promise<IssuedClientCertificate> {
    const hierarchy = options.foreign === true ? await this.#foreignHierarchy() : this.#own;
    const keyPair = await this.#keyPool.take(options.keyLength);
    return { ...clientLeaf(hierarchy, keyPair.publicKey, options), keyPair };
  }

  #foreignHierarchy(): Promise<Hierarchy> {
    this.#foreign ??= createHierarchy(this.#clock, 'Foreign', 'Foreign Org');
    return this.#foreign;
  }
}
