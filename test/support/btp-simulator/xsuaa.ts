// XSUAA for one identity zone (subaccount), on two hosts as on BTP (btp.md section 3):
//   url      server TLS only: client-secret token requests, OpenID configuration, token keys
//   certurl  mutual TLS: the client certificate is checked in the handshake (listen.ts);
//            here it must belong to the named client and to a binding that still exists.
import type { RequestListener } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import type { Clock } from './clock.ts';
import type { Counters } from './counters.ts';
import type { FaultBook } from './faults.ts';
import { createPipeline, type Reply, type RequestContext, reply } from './http.ts';
import { type ClientDirectory, type OAuthClient, secretMatches } from './oauth-clients.ts';
import { SlidingWindowLimiter } from './rate-limit.ts';
import { matchRoute, type Route, type RouteRule } from './routes.ts';
import type { TokenSigner } from './tokens.ts';

export interface XsuaaUrls {
  readonly url: string;
  readonly certurl: string;
}

export interface XsuaaSettings {
  readonly tokenExpiresInSeconds: number;
  /** Token requests per second per endpoint; null switches the limit off. */
  readonly tokenRateLimitPerSecond: number | null;
}

/** The route names one tenant's XSUAA counts under (the other tenant has its own). */
export interface XsuaaRouteNames {
  readonly token: Route;
  readonly openidConfiguration: Route;
  readonly tokenKeys: Route;
  readonly notFound: Route;
  readonly certToken: Route;
  readonly certNotFound: Route;
}

export const XSUAA_ROUTE_NAMES: XsuaaRouteNames = {
  token: 'xsuaa.token',
  openidConfiguration: 'xsuaa.openidConfiguration',
  tokenKeys: 'xsuaa.tokenKeys',
  notFound: 'xsuaa.notFound',
  certToken: 'xsuaa.certToken',
  certNotFound: 'xsuaa.certNotFound',
};

export const OTHER_XSUAA_ROUTE_NAMES: XsuaaRouteNames = {
  token: 'otherXsuaa.token',
  openidConfiguration: 'otherXsuaa.openidConfiguration',
  tokenKeys: 'otherXsuaa.tokenKeys',
  notFound: 'otherXsuaa.notFound',
  certToken: 'otherXsuaa.certToken',
  certNotFound: 'otherXsuaa.certNotFound',
};

export interface XsuaaDeps {
  readonly clients: ClientDirectory;
  /** XSUAA_ROUTE_NAMES when absent. */
  readonly routes?: XsuaaRouteNames;
  readonly signer: TokenSigner;
  readonly clock: Clock;
  readonly counters: Counters;
  readonly faults: FaultBook;
  readonly logger: Logger;
  readonly settings: XsuaaSettings;
  /** Known once the servers listen. */
  readonly urls: () => XsuaaUrls;
}

export interface XsuaaHandlers {
  readonly plain: RequestListener;
  readonly cert: RequestListener;
}

const XSUAA_ERROR_CODES: Readonly<Record<number, string>> = {
  400: 'invalid_request',
  401: 'unauthorized',
  404: 'not_found',
  429: 'too_many_requests',
};

/** XSUAA's own error dialect: `{error, error_description}`. */
export function xsuaaError(status: number, message: string): { error: string; error_description: string } {
  return { error: XSUAA_ERROR_CODES[status] ?? 'server_error', error_description: message };
}

const BAD_CREDENTIALS = reply(401, { error: 'invalid_client', error_description: 'Bad credentials' });

interface TokenRequestFields {
  readonly grantType: string | undefined;
  readonly clientId: string | undefined;
  readonly clientSecret: string | undefined;
}

function basicCredentials(header: string | undefined): { id: string; secret: string } | undefined {
  if (header === undefined || !/^basic /i.test(header)) return undefined;
  const decoded = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  try {
    // RFC 6749 2.3.1: client id and secret are form-urlencoded before Basic encoding.
    return {
      id: decodeURIComponent(decoded.slice(0, colon).replaceAll('+', ' ')),
      secret: decodeURIComponent(decoded.slice(colon + 1).replaceAll('+', ' ')),
    };
  } catch {
    return undefined;
  }
}

async function readTokenRequest(context: RequestContext): Promise<TokenRequestFields> {
  const text = await context.body();
  const contentType = context.req.headers['content-type'] ?? '';
  const form = contentType.startsWith('application/x-www-form-urlencoded')
    ? new URLSearchParams(text)
    : undefined;
  const basic = basicCredentials(context.req.headers.authorization);
  return {
    grantType: form?.get('grant_type') ?? undefined,
    clientId: basic?.id ?? form?.get('client_id') ?? undefined,
    clientSecret: basic?.secret ?? form?.get('client_secret') ?? undefined,
  };
}

function grantTypeProblem(fields: TokenRequestFields): Reply | undefined {
  if (fields.grantType === undefined) {
    return reply(400, { error: 'invalid_request', error_description: 'Missing grant type' });
  }
  if (fields.grantType !== 'client_credentials') {
    return reply(400, {
      error: 'unsupported_grant_type',
      error_description: `Unsupported grant type: ${fields.grantType}`,
    });
  }
  return undefined;
}

function plainRules(names: XsuaaRouteNames): readonly RouteRule<Route>[] {
  return [
    { method: 'POST', pattern: /^\/oauth\/token$/, route: names.token },
    { method: 'GET', pattern: /^\/\.well-known\/openid-configuration$/, route: names.openidConfiguration },
    { method: 'GET', pattern: /^\/token_keys$/, route: names.tokenKeys },
  ];
}

export function createXsuaa(deps: XsuaaDeps): XsuaaHandlers {
  const { clock, counters, signer, clients, settings } = deps;
  const names = deps.routes ?? XSUAA_ROUTE_NAMES;
  const PLAIN_RULES = plainRules(names);
  const CERT_RULES: readonly RouteRule<Route>[] = [
    { method: 'POST', pattern: /^\/oauth\/token$/, route: names.certToken },
  ];
  const limit = settings.tokenRateLimitPerSecond;
  const plainLimiter = limit === null ? undefined : new SlidingWindowLimiter(limit, 1000);
  const certLimiter = limit === null ? undefined : new SlidingWindowLimiter(limit, 1000);

  const rateLimited = (limiter: SlidingWindowLimiter | undefined): Reply | undefined => {
    const admission = limiter?.tryAcquire(clock.now());
    if (admission === undefined || admission.ok) return undefined;
    return reply(429, xsuaaError(429, 'Rate limit exceeded'), {
      'retry-after': String(Math.max(1, Math.ceil(admission.retryAfterMs / 1000))),
    });
  };

  const grant = (client: OAuthClient, certificateDer?: Buffer): Reply => {
    counters.tokenIssued();
    const token = signer.issue({
      clientId: client.clientId,
      scopes: client.scopes,
      expiresInSeconds: settings.tokenExpiresInSeconds,
      ...(certificateDer === undefined ? {} : { certificateDer }),
    });
    return reply(200, token, { 'cache-control': 'no-store' });
  };

  const plainToken = async (context: RequestContext): Promise<Reply> => {
    const limited = rateLimited(plainLimiter);
    if (limited !== undefined) return limited;
    const fields = await readTokenRequest(context);
    const problem = grantTypeProblem(fields);
    if (problem !== undefined) return problem;
    if (fields.clientId === undefined) {
      return reply(401, xsuaaError(401, 'Full authentication is required to access this resource'));
    }
    const client = clients.find(fields.clientId);
    if (client === undefined) return BAD_CREDENTIALS;
    if (client.kind === 'x509') {
      return reply(401, {
        error: 'unauthorized',
        error_description:
          'Unsupported instance credential type x509 on this host: present the client certificate to the certurl',
      });
    }
    if (fields.clientSecret === undefined || !secretMatches(client, fields.clientSecret))
      return BAD_CREDENTIALS;
    return grant(client);
  };

  const certToken = async (context: RequestContext): Promise<Reply> => {
    const limited = rateLimited(certLimiter);
    if (limited !== undefined) return limited;
    const fields = await readTokenRequest(context);
    const problem = grantTypeProblem(fields);
    if (problem !== undefined) return problem;
    // The handshake already proved the chain to our CA; now: which live client owns it?
    const peer = (context.req.socket as TLSSocket).getPeerCertificate();
    const owner =
      peer.fingerprint256 === undefined ? undefined : clients.clientIdForCertificate(peer.fingerprint256);
    if (fields.clientId === undefined || owner !== fields.clientId) return BAD_CREDENTIALS;
    const client = clients.find(owner);
    if (client?.kind !== 'x509') return BAD_CREDENTIALS;
    return grant(client, peer.raw);
  };

  const openidConfiguration = (): Reply => {
    const { url, certurl } = deps.urls();
    return reply(200, {
      issuer: `${url}/oauth/token`,
      authorization_endpoint: `${url}/oauth/authorize`,
      token_endpoint: `${url}/oauth/token`,
      jwks_uri: `${url}/token_keys`,
      grant_types_supported: ['client_credentials'],
      token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post', 'tls_client_auth'],
      id_token_signing_alg_values_supported: ['RS256'],
      mtls_endpoint_aliases: { token_endpoint: `${certurl}/oauth/token` },
    });
  };

  const common = { clock, counters, faults: deps.faults, logger: deps.logger, errorBody: xsuaaError };
  return {
    plain: createPipeline({
      ...common,
      match: (method, pathname) => matchRoute(PLAIN_RULES, method, pathname),
      notFound: names.notFound,
      handle: async (context) => {
        switch (context.route) {
          case names.token:
            return plainToken(context);
          case names.openidConfiguration:
            return openidConfiguration();
          case names.tokenKeys:
            return reply(200, { keys: [signer.jwk] });
          default:
            return reply(404, xsuaaError(404, 'not found'));
        }
      },
    }),
    cert: createPipeline({
      ...common,
      match: (method, pathname) => matchRoute(CERT_RULES, method, pathname),
      notFound: names.certNotFound,
      handle: certToken,
    }),
  };
}
