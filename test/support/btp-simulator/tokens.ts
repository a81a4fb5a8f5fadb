// Access tokens: RS256-signed JWTs in the XSUAA shape, signed with the identity zone's key
// (published as `verificationkey` and at /token_keys). The Service Manager verifies them
// with the same key: signature, issuer, expiry, and that the client is one of its own.
import { createHash, type KeyObject, randomUUID, sign, verify } from 'node:crypto';
import type { Clock } from './clock.ts';
import { isRecord } from './input.ts';

export const TOKEN_KEY_ID = 'simulator-key-1';

export interface TokenRequest {
  readonly clientId: string;
  readonly scopes: readonly string[];
  readonly expiresInSeconds: number;
  /** DER of the client certificate for certificate-bound tokens (certurl). */
  readonly certificateDer?: Buffer;
}

export interface TokenResponse {
  readonly access_token: string;
  readonly token_type: 'bearer';
  readonly expires_in: number;
  readonly scope: string;
  readonly jti: string;
}

export interface VerifiedToken {
  readonly clientId: string;
  readonly scopes: readonly string[];
  readonly expiresAtMs: number;
}

export type TokenRejection = 'malformed' | 'badSignature' | 'wrongIssuer' | 'expired';

export type TokenVerdict =
  | { readonly ok: true; readonly token: VerifiedToken }
  | { readonly ok: false; readonly reason: TokenRejection };

export interface TokenSignerOptions {
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  readonly issuer: string;
  readonly zoneId: string;
  readonly subaccountId: string;
  readonly clock: Clock;
}

function base64url(value: Buffer | string): string {
  return Buffer.from(value).toString('base64url');
}

export class TokenSigner {
  readonly #options: TokenSignerOptions;

  constructor(options: TokenSignerOptions) {
    this.#options = options;
  }

  get verificationKeyPem(): string {
    return this.#options.publicKey.export({ type: 'spki', format: 'pem' }).toString();
  }

  get jwk(): Record<string, unknown> {
    return {
      ...this.#options.publicKey.export({ format: 'jwk' }),
      kid: TOKEN_KEY_ID,
      use: 'sig',
      alg: 'RS256',
    };
  }

  issue(request: TokenRequest): TokenResponse {
    const { clock, issuer, zoneId, subaccountId } = this.#options;
    const issuedAt = Math.floor(clock.now() / 1000);
    const jti = randomUUID().replaceAll('-', '');
    const header = { alg: 'RS256', typ: 'JWT', kid: TOKEN_KEY_ID };
    const payload = {
      jti,
      iss: issuer,
      zid: zoneId,
      sub: request.clientId,
      client_id: request.clientId,
      cid: request.clientId,
      azp: request.clientId,
      aud: [request.clientId],
      grant_type: 'client_credentials',
      scope: request.scopes,
      iat: issuedAt,
      exp: issuedAt + request.expiresInSeconds,
      ext_attr: { enhancer: 'XSUAA', subaccountid: subaccountId, zdn: zoneId },
      ...(request.certificateDer === undefined
        ? {}
        : { cnf: { 'x5t#S256': createHash('sha256').update(request.certificateDer).digest('base64url') } }),
    };
    const signingInput = `${base64url(JSON.stringify(header))}.${base64url(JSON.stringify(payload))}`;
    const signature = sign('sha256', Buffer.from(signingInput), this.#options.privateKey);
    return {
      access_token: `${signingInput}.${signature.toString('base64url')}`,
      token_type: 'bearer',
      expires_in: request.expiresInSeconds,
      scope: request.scopes.join(' '),
      jti,
    };
  }

  verify(token: string): TokenVerdict {
    const parts = token.split('.');
    const [header, payload, signature] = parts;
    if (parts.length !== 3 || header === undefined || payload === undefined || signature === undefined) {
      return { ok: false, reason: 'malformed' };
    }
    const valid = verify(
      'sha256',
      Buffer.from(`${header}.${payload}`),
      this.#options.publicKey,
      Buffer.from(signature, 'base64url'),
    );
    if (!valid) return { ok: false, reason: 'badSignature' };
    let claims: unknown;
    try {
      claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
    } catch {
      return { ok: false, reason: 'malformed' };
    }
    if (!isRecord(claims)) return { ok: false, reason: 'malformed' };
    const { client_id: clientId, exp, scope, iss } = claims;
    if (typeof clientId !== 'string' || typeof exp !== 'number' || !Array.isArray(scope)) {
      return { ok: false, reason: 'malformed' };
    }
    if (iss !== this.#options.issuer) return { ok: false, reason: 'wrongIssuer' };
    const expiresAtMs = exp * 1000;
    if (expiresAtMs <= this.#options.clock.now()) return { ok: false, reason: 'expired' };
    const scopes = scope.filter((item): item is string => typeof item === 'string');
    return { ok: true, token: { clientId, scopes, expiresAtMs } };
  }
}
