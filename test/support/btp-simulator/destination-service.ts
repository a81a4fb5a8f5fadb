// The Destination service REST API, the part the operator uses (btp.md §6), under
// /destination-configuration/v1:
//   GET    /destinations/{name}                          find-destination (instance first, then subaccount)
//   GET    /{subaccount|instance}Certificates            the stored files of that level
//   GET    /{subaccount|instance}Certificates/{name}     one file {Name, Type, Content}
//   POST   /{subaccount|instance}Certificates            upload {Name, Type, Content}, or generate
//                                                        {Name, Attributes: {CN, Validity, AutomaticRenew, CSR?}}
//   DELETE /{subaccount|instance}Certificates/{name}
// Every request needs a bearer token from the simulator's XSUAA for a client of a destination
// instance (its binding's clientid); instance-level requests act on that client's instance.
// Errors are `{"ErrorMessage": "..."}`.
import type { RequestListener } from 'node:http';
import type { Logger } from 'pino';
import type { Clock } from './clock.ts';
import type { Counters } from './counters.ts';
import type {
  CertificateLevel,
  DestinationStore,
  Generation,
  Owner,
  StoredFile,
} from './destination-store.ts';
import type { FaultBook } from './faults.ts';
import { createPipeline, type Reply, type RequestContext, reply } from './http.ts';
import {
  InputError,
  optionalBoolean,
  parseJson,
  rejectUnknownKeys,
  requireInteger,
  requireOneOf,
  requireRecord,
  requireString,
} from './input.ts';
import { csrPublicKey, formatOfName } from './keystores.ts';
import { VALIDITY_RANGES, VALIDITY_TYPES } from './lifetime.ts';
import { matchRoute, type Route, type RouteRule } from './routes.ts';
import type { TokenSigner } from './tokens.ts';

/** The scope tokens of a destination instance's clients carry (the simulator's reading). */
export const DESTINATION_SCOPE = 'destination-xsappname!b9.readAccess';

export interface DestinationServiceDeps {
  readonly store: DestinationStore;
  /** Verifies the callers' tokens (the subaccount's XSUAA). */
  readonly signer: TokenSigner;
  /** Signs the authTokens of OAuth2ClientCredentials destinations (the other tenant's XSUAA). */
  readonly otherSigner: TokenSigner;
  /** Whether the other tenant's XSUAA would give `clientId` a token for this certificate. */
  readonly otherTenantAccepts: (clientId: string, fingerprint256: string) => boolean;
  readonly certificateFingerprints: (content: Buffer, password: string | undefined) => readonly string[];
  /** The Destination service instance a client belongs to; undefined for other clients. */
  readonly instanceOfClient: (clientId: string) => string | undefined;
  readonly tokenExpiresInSeconds: number;
  readonly subaccountId: string;
  readonly clock: Clock;
  readonly counters: Counters;
  readonly faults: FaultBook;
  readonly logger: Logger;
}

const BASE = '/destination-configuration/v1';
const LEVEL = '(?<level>subaccount|instance)Certificates';
const RULES: readonly RouteRule<Route>[] = [
  {
    method: 'GET',
    pattern: new RegExp(`^${BASE}/destinations/(?<name>[^/]+)$`),
    route: 'destination.findDestination',
  },
  { method: 'GET', pattern: new RegExp(`^${BASE}/${LEVEL}/?$`), route: 'destination.listCertificates' },
  {
    method: 'GET',
    pattern: new RegExp(`^${BASE}/${LEVEL}/(?<name>[^/]+)$`),
    route: 'destination.getCertificate',
  },
  { method: 'POST', pattern: new RegExp(`^${BASE}/${LEVEL}/?$`), route: 'destination.createCertificate' },
  {
    method: 'DELETE',
    pattern: new RegExp(`^${BASE}/${LEVEL}/(?<name>[^/]+)$`),
    route: 'destination.deleteCertificate',
  },
];

/** Properties that name stored files, in the order find-destination lists them. */
const KEYSTORE_PROPERTIES = [
  'KeyStoreLocation',
  'tokenService.KeyStoreLocation',
  'TrustStoreLocation',
] as const;
const MAX_NAME_LENGTH = 200;
const BASE64 = /^[A-Za-z0-9+/\r\n]*={0,2}\s*$/;

class DestinationError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

export function destinationErrorBody(_status: number, message: string): { ErrorMessage: string } {
  return { ErrorMessage: message };
}

function decodeName(raw: string | undefined): string {
  let name: string;
  try {
    name = decodeURIComponent(raw ?? '');
  } catch {
    throw new InputError('the name is not valid percent-encoding');
  }
  const control = [...name].some((char) => (char.codePointAt(0) ?? 0) < 0x20);
  if (name === '' || name.length > MAX_NAME_LENGTH || control || name.includes('/')) {
    throw new InputError(`a name must be 1-${MAX_NAME_LENGTH} characters without "/" or control characters`);
  }
  return name;
}

function decodeBase64(text: string, what: string): Buffer {
  if (!BASE64.test(text)) throw new InputError(`${what} is not base64`);
  return Buffer.from(text, 'base64');
}

/** The CSR as PEM: the Attributes.CSR field is the base64 of the PEM text or of the DER. */
function csrPem(value: string): string {
  if (value.includes('-----BEGIN')) return value;
  const bytes = decodeBase64(value, 'Attributes.CSR');
  const text = bytes.toString('utf8');
  if (text.includes('-----BEGIN')) return text;
  const lines = bytes.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN CERTIFICATE REQUEST-----\n${lines.join('\n')}\n-----END CERTIFICATE REQUEST-----\n`;
}

function parseGeneration(attributes: unknown): Generation {
  const record = requireRecord(attributes, 'Attributes');
  rejectUnknownKeys(record, ['CN', 'Validity', 'AutomaticRenew', 'CSR'], 'Attributes');
  const validity = requireRecord(record.Validity, 'Attributes.Validity');
  rejectUnknownKeys(validity, ['TimeUnit', 'Value'], 'Attributes.Validity');
  const type = requireOneOf(validity.TimeUnit, VALIDITY_TYPES, 'Attributes.Validity.TimeUnit');
  const [min, max] = VALIDITY_RANGES[type];
  const value = requireInteger(
    validity.Value,
    'Attributes.Validity.Value',
    min,
    type === 'DAYS' ? 3650 : max,
  );
  let csrPublicKeyPem: string | undefined;
  if (record.CSR !== undefined) {
    const parsed = csrPublicKey(csrPem(requireString(record.CSR, 'Attributes.CSR')));
    if (parsed === undefined) throw new InputError('Attributes.CSR is not a valid, signed PKCS#10 request');
    csrPublicKeyPem = parsed.publicKeyPem;
  }
  return {
    commonName: requireString(record.CN, 'Attributes.CN'),
    validity: { type, value },
    automaticRenew: optionalBoolean(record.AutomaticRenew, 'Attributes.AutomaticRenew') ?? false,
    csrPublicKeyPem,
  };
}

export function createDestinationService(deps: DestinationServiceDeps): RequestListener {
  const { store, clock, faults } = deps;

  const authenticate = (context: RequestContext): { clientId: string; instanceId: string | undefined } => {
    const header = context.req.headers.authorization;
    if (header === undefined || !/^bearer /i.test(header)) throw new DestinationError(401, 'Unauthorized');
    const verdict = deps.signer.verify(header.slice(7).trim());
    if (!verdict.ok) throw new DestinationError(401, `Unauthorized: token ${verdict.reason}`);
    if (!verdict.token.scopes.includes(DESTINATION_SCOPE)) {
      throw new DestinationError(403, `Forbidden: token lacks scope ${DESTINATION_SCOPE}`);
    }
    return { clientId: verdict.token.clientId, instanceId: deps.instanceOfClient(verdict.token.clientId) };
  };

  const ownerOf = (level: string | undefined, instanceId: string | undefined): Owner => {
    const chosen = requireOneOf(level, ['subaccount', 'instance'] as const, 'level') as CertificateLevel;
    if (chosen === 'subaccount') return { level: 'subaccount' };
    if (instanceId === undefined) {
      throw new DestinationError(403, 'Forbidden: the client belongs to no destination service instance');
    }
    return { level: 'instance', instanceId };
  };

  /** A file as served, with any keystore fault applied; undefined when it is (made) missing. */
  const served = (file: StoredFile | undefined): { content: Buffer; file: StoredFile } | undefined => {
    if (file === undefined) return undefined;
    switch (faults.takeKeystoreDefect(file.name)) {
      case 'missingCertificate':
        return undefined;
      case 'corruptKeystore':
        return { file, content: file.content.subarray(0, Math.floor(file.content.length / 2)) };
      case 'wrongPassword':
        return { file, content: store.withOtherPassword(file) ?? file.content };
      default:
        return { file, content: file.content };
    }
  };

  const view = (name: string, type: string, content: Buffer) => ({
    Name: name,
    Type: type,
    Content: content.toString('base64'),
  });

  const authTokens = (configuration: Readonly<Record<string, string>>, keystore: Buffer | undefined) => {
    const clientId = configuration.clientId;
    const password = configuration['tokenService.KeyStorePassword'] ?? configuration.KeyStorePassword;
    const accepted =
      clientId !== undefined &&
      keystore !== undefined &&
      deps
        .certificateFingerprints(keystore, password)
        .some((fingerprint) => deps.otherTenantAccepts(clientId, fingerprint));
    if (!accepted || clientId === undefined) {
      return [
        {
          type: '',
          value: '',
          error: 'Retrieval of OAuthToken failed due to: the token service refused the client certificate',
          expires_in: '0',
        },
      ];
    }
    const token = deps.otherSigner.issue({
      clientId,
      scopes: ['uaa.resource'],
      expiresInSeconds: deps.tokenExpiresInSeconds,
    });
    return [
      {
        type: 'bearer',
        value: token.access_token,
        http_header: { key: 'Authorization', value: `Bearer ${token.access_token}` },
        expires_in: String(token.expires_in),
      },
    ];
  };

  const findDestination = (context: RequestContext, instanceId: string | undefined): Reply => {
    const name = decodeName(context.params.name);
    const found = store.findDestination(name, instanceId);
    if (found === undefined) {
      return reply(404, destinationErrorBody(404, 'Configuration with the specified name was not found'));
    }
    const { owner, configuration } = found;
    const certificates: ReturnType<typeof view>[] = [];
    let tokenKeystore: Buffer | undefined;
    for (const property of KEYSTORE_PROPERTIES) {
      const location = configuration[property];
      if (location === undefined || certificates.some((entry) => entry.Name === location)) continue;
      const file = served(store.fileFor(owner, location));
      if (file === undefined) continue;
      certificates.push(view(file.file.name, file.file.type, file.content));
      if (property !== 'TrustStoreLocation' && tokenKeystore === undefined) tokenKeystore = file.content;
    }
    const oauth = configuration.Authentication === 'OAuth2ClientCredentials';
    return reply(200, {
      owner: {
        SubaccountId: deps.subaccountId,
        InstanceId: owner.level === 'instance' ? (owner.instanceId ?? null) : null,
      },
      destinationConfiguration: configuration,
      ...(certificates.length > 0 ? { certificates } : {}),
      ...(oauth ? { authTokens: authTokens(configuration, tokenKeystore) } : {}),
    });
  };

  const createCertificate = async (context: RequestContext, owner: Owner): Promise<Reply> => {
    const body = requireRecord(parseJson(await context.body(), 'request body'), 'request body');
    const name = decodeName(requireString(body.Name, 'Name'));
    if (store.has(owner, name)) {
      return reply(409, destinationErrorBody(409, `A certificate with name ${name} already exists`));
    }
    if (body.Attributes !== undefined) {
      rejectUnknownKeys(body, ['Name', 'Type', 'Attributes'], 'request body');
      if (formatOfName(name) !== 'pem') {
        throw new InputError('generated certificates are PEM files: use a name ending in .pem');
      }
      const file = await store.generate(owner, name, parseGeneration(body.Attributes));
      return reply(201, view(file.name, file.type, file.content));
    }
    rejectUnknownKeys(body, ['Name', 'Type', 'Content'], 'request body');
    const content = decodeBase64(requireString(body.Content, 'Content'), 'Content');
    const type = body.Type === undefined ? 'CERTIFICATE' : requireString(body.Type, 'Type');
    const file = store.upload(owner, name, type, content);
    return reply(201, view(file.name, file.type, file.content));
  };

  const route = async (context: RequestContext, instanceId: string | undefined): Promise<Reply> => {
    switch (context.route) {
      case 'destination.findDestination':
        return findDestination(context, instanceId);
      case 'destination.listCertificates': {
        const owner = ownerOf(context.params.level, instanceId);
        return reply(
          200,
          store.files(owner).flatMap((file) => {
            const shown = served(file);
            return shown === undefined ? [] : [view(file.name, file.type, shown.content)];
          }),
        );
      }
      case 'destination.getCertificate': {
        const owner = ownerOf(context.params.level, instanceId);
        const shown = served(store.file(owner, decodeName(context.params.name)));
        if (shown === undefined) {
          return reply(404, destinationErrorBody(404, 'Certificate with the specified name was not found'));
        }
        return reply(200, view(shown.file.name, shown.file.type, shown.content));
      }
      case 'destination.createCertificate':
        return createCertificate(context, ownerOf(context.params.level, instanceId));
      case 'destination.deleteCertificate': {
        const owner = ownerOf(context.params.level, instanceId);
        const removed = store.removeFile(owner, decodeName(context.params.name));
        return removed
          ? reply(200, {})
          : reply(404, destinationErrorBody(404, 'Certificate with the specified name was not found'));
      }
      default:
        return reply(404, destinationErrorBody(404, 'not found'));
    }
  };

  return createPipeline({
    clock,
    counters: deps.counters,
    faults,
    logger: deps.logger,
    errorBody: destinationErrorBody,
    match: (method, pathname) => matchRoute(RULES, method, pathname),
    notFound: 'destination.notFound',
    handle: async (context) => {
      try {
        const caller = authenticate(context);
        return await route(context, caller.instanceId);
      } catch (error) {
        if (error instanceof DestinationError) {
          return reply(error.status, destinationErrorBody(error.status, error.message));
        }
        throw error;
      }
    },
  });
}
