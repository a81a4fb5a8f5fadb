// The identity zone's OAuth clients: client-secret clients and x509 clients. An x509 client
// is known by the SHA-256 fingerprints of the certificates issued to it; removing the client
// (deleting its binding) is what revokes those certificates (btp.md section 1).
import { timingSafeEqual } from 'node:crypto';

export type OAuthClient =
  | {
      readonly kind: 'secret';
      readonly clientId: string;
      readonly secret: string;
      readonly scopes: readonly string[];
    }
  | {
      readonly kind: 'x509';
      readonly clientId: string;
      /** Colon-separated upper-case hex, as Node's fingerprint256. */
      readonly fingerprints: ReadonlySet<string>;
      readonly scopes: readonly string[];
    };

export function secretMatches(client: OAuthClient, secret: string): boolean {
  if (client.kind !== 'secret') return false;
  const expected = Buffer.from(client.secret);
  const given = Buffer.from(secret);
  return expected.length === given.length && timingSafeEqual(expected, given);
}

/** What a token endpoint asks about its clients. */
export interface ClientDirectory {
  find(clientId: string): OAuthClient | undefined;
  /** The client a live certificate belongs to. */
  clientIdForCertificate(fingerprint256: string): string | undefined;
}

export class ClientRegistry implements ClientDirectory {
  readonly #clients = new Map<string, OAuthClient>();
  readonly #byFingerprint = new Map<string, string>();

  register(client: OAuthClient): void {
    this.remove(client.clientId);
    this.#clients.set(client.clientId, client);
    if (client.kind === 'x509') {
      for (const fingerprint of client.fingerprints) this.#byFingerprint.set(fingerprint, client.clientId);
    }
  }

  remove(clientId: string): void {
    const client = this.#clients.get(clientId);
    if (client === undefined) return;
    this.#clients.delete(clientId);
    if (client.kind === 'x509') {
      for (const fingerprint of client.fingerprints) this.#byFingerprint.delete(fingerprint);
    }
  }

  find(clientId: string): OAuthClient | undefined {
    return this.#clients.get(clientId);
  }

  /** The client a live certificate belongs to. */
  clientIdForCertificate(fingerprint256: string): string | undefined {
    return this.#byFingerprint.get(fingerprint256);
  }
}
