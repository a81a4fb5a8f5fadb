// The Destination service client (btp.md §6) for one access credential (a Destination service
// binding: `uri`, the token URL, `clientid`, and a client secret or a certificate and key):
// find-destination, and the certificate files stored at the subaccount or instance level.
// Requests carry a bearer token and go through the retry policy like the Service Manager's
// (bearer-api.ts): 429 and 5xx are retried honouring Retry-After, a 401 refreshes the token once.
//
// Certificate contents and keystore passwords are key material: they leave this module only as
// bytes and Secrets in the results, never in an error message.
import type {
  DestinationConfiguration,
  DestinationLevel,
  FoundDestination,
  GenerateCertificateRequest,
  StoredCertificate,
} from '../sources/destination-port.ts';
import { safeApiText, unexpectedBody } from './api-error.ts';
import {
  type ApiClientOptions,
  type ApiCredential,
  BearerApi,
  type DeadlineOptions,
  httpsBaseUrl,
  tokenCredentialOf,
} from './bearer-api.ts';
import { BtpError, describeRequest } from './errors.ts';
import type { BtpResponse } from './http.ts';
import { isRecord, nonEmptyString, optionalString } from './parse.ts';
import { type RetryPolicy, resolveRetryPolicy } from './retry.ts';
import { Secret } from './secret.ts';

export type DestinationCredential = ApiCredential & {
  /** The binding's `uri`, e.g. `https://destination-configuration.cfapps.eu10.hana.ondemand.com`. */
  readonly serviceUrl: string;
};

/** `credentialId`: `destination:<clientId>` when absent. */
export type DestinationClientOptions = ApiClientOptions;

const API = '/destination-configuration/v1';
const CERTIFICATES_PATH: Readonly<Record<DestinationLevel, string>> = {
  Subaccount: `${API}/subaccountCertificates`,
  Instance: `${API}/instanceCertificates`,
};

/** Destination properties that hold secrets: kept out of `properties` (the password as a Secret). */
const SECRET_PROPERTY = /(password|secret|pass)$/i;
/** A certificate file's Content: base64, possibly wrapped. */
const BASE64 = /^[A-Za-z0-9+/\r\n]*={0,2}[\r\n]*$/;

export class DestinationClient {
  readonly #api: BearerApi;
  readonly #retry: RetryPolicy;

  constructor(credential: DestinationCredential, options: DestinationClientOptions) {
    this.#retry = resolveRetryPolicy(options.retry);
    this.#api = new BearerApi({
      base: httpsBaseUrl(credential.serviceUrl, 'uri'),
      credential: tokenCredentialOf(credential),
      credentialId: options.credentialId ?? `destination:${credential.clientId}`,
      http: options.http,
      tokens: options.tokens,
      clock: options.clock,
      random: options.random ?? Math.random,
      retry: this.#retry,
    });
  }

  get credentialId(): string {
    return this.#api.credentialId;
  }

  /**
   * find-destination: the instance level first, then the subaccount's. With `level`, a
   * destination found at the other level counts as not found. undefined on 404.
   */
  async findDestination(
    name: string,
    level?: DestinationLevel,
    options: DeadlineOptions = {},
  ): Promise<FoundDestination | undefined> {
    const url = this.#api.url(`${API}/destinations/${encodeURIComponent(name)}`);
    const response = await this.#get('destination.findDestination', url, options);
    if (response === undefined) return undefined;
    const found = parseFoundDestination(response.json, this.#api.secrets());
    if (found === undefined) throw unexpectedBody('GET', url, 200, 'the body is no destination');
    if (level !== undefined && found.owner.level !== level) return undefined;
    return found;
  }

  /** A stored certificate file of that level; undefined on 404. */
  async getCertificate(
    name: string,
    level: DestinationLevel,
    options: DeadlineOptions = {},
  ): Promise<StoredCertificate | undefined> {
    const url = this.#certificateUrl(level, name);
    const response = await this.#get('destination.getCertificate', url, options);
    if (response === undefined) return undefined;
    const certificate = parseStoredCertificate(response.json);
    if (certificate === undefined) throw unexpectedBody('GET', url, 200, 'the body is no certificate file');
    return certificate;
  }

  /**
   * Asks the service to generate a certificate (signing `csrPem` when given: the private key
   * stays with the caller) and returns the stored file. Not repeated within the call when it
   * failed without an answer (it may have happened): the caller looks the name up before
   * creating it again. A name in use is BtpConflict.
   */
  async createCertificate(
    request: GenerateCertificateRequest,
    options: DeadlineOptions = {},
  ): Promise<StoredCertificate> {
    const url = this.#api.url(CERTIFICATES_PATH[request.level]);
    const response = await this.#api.exchange({
      operation: 'destination.createCertificate',
      method: 'POST',
      url,
      body: {
        Name: request.name,
        Type: 'CERTIFICATE',
        Attributes: {
          CN: request.commonName,
          Validity: { TimeUnit: request.validity.unit, Value: request.validity.value },
          AutomaticRenew: request.automaticRenew,
          ...(request.csrPem === undefined
            ? {}
            : { CSR: Buffer.from(request.csrPem, 'utf8').toString('base64') }),
        },
      },
      idempotent: false,
      deadlineAtMs: this.#api.deadline(options, this.#retry.deadlineMs),
      responseKind: 'destination',
    });
    if (response.status !== 200 && response.status !== 201) throw this.#api.error('POST', url, response);
    const created = parseStoredCertificate(response.json);
    if (created !== undefined) return created;
    // An answer without the file (the API documents none): read what was stored.
    const stored = await this.getCertificate(request.name, request.level, options);
    if (stored === undefined) {
      throw new BtpError(
        'BtpUnexpectedResponse',
        `${describeRequest('GET', this.#certificateUrl(request.level, request.name))}: 404 after the certificate was created`,
      );
    }
    return stored;
  }

  /** Deletes a stored certificate. Idempotent: one that is already gone (404, 410) is fine. */
  async deleteCertificate(
    name: string,
    level: DestinationLevel,
    options: DeadlineOptions = {},
  ): Promise<void> {
    const url = this.#certificateUrl(level, name);
    const response = await this.#api.exchange({
      operation: 'destination.deleteCertificate',
      method: 'DELETE',
      url,
      idempotent: true,
      deadlineAtMs: this.#api.deadline(options, this.#retry.deadlineMs),
      responseKind: 'destination',
    });
    if ([200, 204, 404, 410].includes(response.status)) return;
    throw this.#api.error('DELETE', url, response);
  }

  /** Closes this credential's connections and forgets its token. */
  close(): Promise<void> {
    return this.#api.close();
  }

  /** A GET; undefined on 404/410, the answer on 200, an error otherwise. */
  async #get(operation: string, url: URL, options: DeadlineOptions): Promise<BtpResponse | undefined> {
    const response = await this.#api.exchange({
      operation,
      method: 'GET',
      url,
      idempotent: true,
      deadlineAtMs: this.#api.deadline(options, this.#retry.deadlineMs),
      responseKind: 'destination',
    });
    if (response.status === 404 || response.status === 410) return undefined;
    if (response.status !== 200) throw this.#api.error('GET', url, response);
    return response;
  }

  #certificateUrl(level: DestinationLevel, name: string): URL {
    return this.#api.url(`${CERTIFICATES_PATH[level]}/${encodeURIComponent(name)}`);
  }
}

/** `{Name, Type, Content}` with Content decoded; undefined when it is not that shape. */
export function parseStoredCertificate(json: unknown): StoredCertificate | undefined {
  if (!isRecord(json)) return undefined;
  const name = nonEmptyString(json.Name);
  const content = optionalString(json.Content);
  if (name === undefined || content === undefined || !BASE64.test(content)) return undefined;
  return {
    name,
    type: optionalString(json.Type) ?? 'CERTIFICATE',
    content: new Uint8Array(Buffer.from(content, 'base64')),
  };
}

function parseConfiguration(json: unknown): DestinationConfiguration | undefined {
  if (!isRecord(json)) return undefined;
  const name = nonEmptyString(json.Name);
  if (name === undefined) return undefined;
  const text = (key: string) => optionalString(json[key]);
  const password = text('KeyStorePassword') ?? text('tokenService.KeyStorePassword');
  const properties: Record<string, string> = {};
  for (const [key, value] of Object.entries(json)) {
    if (typeof value === 'string' && !SECRET_PROPERTY.test(key)) properties[key] = value;
  }
  return {
    name,
    type: text('Type'),
    url: text('URL'),
    authentication: text('Authentication'),
    keyStoreLocation: text('KeyStoreLocation') ?? text('tokenService.KeyStoreLocation'),
    keyStorePassword: password === undefined ? undefined : new Secret(password),
    tokenServiceUrl: text('tokenServiceURL'),
    clientId: text('clientId'),
    properties,
  };
}

/** A find-destination answer; undefined when it is not one. Token values are dropped. */
export function parseFoundDestination(
  json: unknown,
  secrets: readonly string[],
): FoundDestination | undefined {
  if (!isRecord(json)) return undefined;
  const configuration = parseConfiguration(json.destinationConfiguration);
  if (configuration === undefined) return undefined;
  const owner = isRecord(json.owner) ? json.owner : {};
  const instanceId = nonEmptyString(owner.InstanceId);
  const certificates: StoredCertificate[] = [];
  if (json.certificates !== undefined) {
    if (!Array.isArray(json.certificates)) return undefined;
    for (const entry of json.certificates) {
      const certificate = parseStoredCertificate(entry);
      if (certificate === undefined) return undefined;
      certificates.push(certificate);
    }
  }
  const tokens = Array.isArray(json.authTokens) ? json.authTokens : [];
  return {
    owner:
      instanceId === undefined
        ? { level: 'Subaccount', id: nonEmptyString(owner.SubaccountId) }
        : { level: 'Instance', id: instanceId },
    configuration,
    certificates,
    authTokens: tokens.filter(isRecord).map((token) => ({
      type: optionalString(token.type) ?? '',
      error: safeApiText(token.error, secrets),
    })),
  };
}
