// The Service Manager client (btp.md §4) for one SM access credential, client-secret or x509.
// Every call carries a bearer token from the TokenCache (a 401 refreshes it once per call) and
// goes through the retry policy (retry.ts). Async operations (202 + Location) are polled with
// backoff until they end or the caller's deadline passes. Every request, retries and polls
// included, waits for the caller's rate limits first (rate-limit.ts).
import { type BackoffPolicy, backoffDelay, validateBackoff } from '../runtime/backoff.ts';
import { type Clock, sleep } from '../runtime/clock.ts';
import { apiErrorFields, unexpectedBody } from './api-error.ts';
import {
  type ApiClientOptions,
  type ApiCredential,
  BearerApi,
  type DeadlineOptions,
  type Exchange,
  httpsBaseUrl,
  tokenCredentialOf,
} from './bearer-api.ts';
import { BtpError, describeRequest } from './errors.ts';
import type { BtpResponse } from './http.ts';
import { MAX_LIST_ITEMS, MAX_LIST_PAGES } from './limits.ts';
import { headerValue } from './parse.ts';
import { equalsQuery } from './query.ts';
import { SM_RATE_LIMIT, type SmRateLimit, SmRateLimiter } from './rate-limit.ts';
import { type RetryPolicy, resolveRetryPolicy } from './retry.ts';

export type { DeadlineOptions } from './bearer-api.ts';

import { parseRetryAfter } from './retry-after.ts';
import {
  type Labels,
  parseBinding,
  parseInstance,
  parseOperation,
  parsePage,
  type SmBinding,
  type SmInstance,
  type SmOperation,
} from './sm-resources.ts';

interface SmCredentialBase {
  /** `sm_url` of the SM binding. */
  readonly smUrl: string;
  /** The full token endpoint: `url` + `/oauth/token` (secret) or `certurl` + `/oauth/token` (x509). */
  readonly tokenUrl: string;
  readonly clientId: string;
}

export type SmCredential = SmCredentialBase & ApiCredential;

export interface OperationPolling {
  /** Wait between polls of an operation: grows from baseMs to maxMs. */
  readonly backoff: BackoffPolicy;
  /** Default budget of a createBinding / deleteBinding, polling included. */
  readonly deadlineMs: number;
}

export const DEFAULT_OPERATION_POLLING: OperationPolling = Object.freeze({
  backoff: Object.freeze({ baseMs: 1_000, maxMs: 10_000, jitter: 0.2 }),
  deadlineMs: 5 * 60_000,
});

/** SM lists return at most 200 items a page. */
export const DEFAULT_PAGE_SIZE = 100;

/** `credentialId`: `sm:<clientId>` when absent. */
export interface ServiceManagerClientOptions extends ApiClientOptions {
  readonly polling?: Partial<OperationPolling>;
  readonly pageSize?: number;
  /** This credential's limits; SM_RATE_LIMIT (under the documented ones) when absent. */
  readonly rateLimit?: SmRateLimit;
}

export interface CreateBindingRequest {
  readonly name: string;
  readonly serviceInstanceId: string;
  readonly parameters?: Readonly<Record<string, unknown>>;
  readonly labels?: Labels;
}

export interface ListQuery {
  /** fieldQuery text; build it with buildQuery/equalsQuery (query.ts). */
  readonly fieldQuery?: string;
  readonly labelQuery?: string;
}

/** PATCH label changes; `remove` without values drops the key. */
export type LabelChange =
  | { readonly op: 'add' | 'add_values'; readonly key: string; readonly values: readonly string[] }
  | { readonly op: 'remove' | 'remove_values'; readonly key: string; readonly values?: readonly string[] };

export class ServiceManagerClient {
  readonly #base: URL;
  readonly #api: BearerApi;
  readonly #clock: Clock;
  readonly #random: () => number;
  readonly #retry: RetryPolicy;
  readonly #polling: OperationPolling;
  readonly #pageSize: number;

  constructor(credential: SmCredential, options: ServiceManagerClientOptions) {
    this.#base = httpsBaseUrl(credential.smUrl, 'sm_url');
    this.#clock = options.clock;
    this.#random = options.random ?? Math.random;
    this.#retry = resolveRetryPolicy(options.retry);
    const limiter = new SmRateLimiter(this.#clock, options.rateLimit ?? SM_RATE_LIMIT);
    this.#api = new BearerApi({
      base: this.#base,
      credential: tokenCredentialOf(credential),
      credentialId: options.credentialId ?? `sm:${credential.clientId}`,
      http: options.http,
      tokens: options.tokens,
      clock: this.#clock,
      random: this.#random,
      retry: this.#retry,
      beforeRequest: (spec) => limiter.take(this.#isBindingRequest(spec.url) ? 'binding' : 'other'),
    });
    this.#polling = { ...DEFAULT_OPERATION_POLLING, ...options.polling };
    validateBackoff(this.#polling.backoff);
    this.#pageSize = options.pageSize ?? DEFAULT_PAGE_SIZE;
  }

  get credentialId(): string {
    return this.#api.credentialId;
  }

  /**
   * Creates a binding and returns it with its credentials: at once on 201, or after its
   * operation succeeded on 202. A create that failed without an answer (timeout, dropped
   * connection) is not repeated within the call, as it may have happened: the error is retryable
   * and the caller should look the binding up by name before creating it again.
   */
  async createBinding(request: CreateBindingRequest, options: DeadlineOptions = {}): Promise<SmBinding> {
    const deadlineAtMs = this.#deadline(options, this.#polling.deadlineMs);
    const url = this.#url('/v1/service_bindings');
    const response = await this.#exchange({
      operation: 'sm.createBinding',
      method: 'POST',
      url,
      body: {
        name: request.name,
        service_instance_id: request.serviceInstanceId,
        ...(request.parameters === undefined ? {} : { parameters: request.parameters }),
        ...(request.labels === undefined ? {} : { labels: request.labels }),
      },
      idempotent: false,
      deadlineAtMs,
    });
    if (response.status === 200 || response.status === 201) {
      const binding = parseBinding(response.json);
      if (binding === undefined) throw unexpectedBody('POST', url, response.status, 'the body is no binding');
      return binding;
    }
    if (response.status === 202) {
      const operationUrl = this.#operationUrl('POST', url, response);
      const bindingId = bindingIdOf(operationUrl);
      await this.#awaitOperation(operationUrl, 'create', deadlineAtMs, response);
      const binding = await this.getBinding(bindingId, {
        deadlineMs: Math.max(1, deadlineAtMs - this.#clock.nowMs()),
      });
      if (binding === undefined) {
        throw new BtpError(
          'BtpUnexpectedResponse',
          `${describeRequest('GET', this.#url(`/v1/service_bindings/${bindingId}`))}: 404 after the create operation succeeded`,
        );
      }
      return binding;
    }
    throw this.#error('POST', url, response);
  }

  /** The binding with its credentials; undefined when it does not exist (or its create still runs). */
  async getBinding(id: string, options: DeadlineOptions = {}): Promise<SmBinding | undefined> {
    return this.#getOne(
      'sm.getBinding',
      `/v1/service_bindings/${encodeURIComponent(id)}`,
      options,
      parseBinding,
      'binding',
    );
  }

  /** Every binding matching the queries, following the paging tokens. */
  async listBindings(query: ListQuery = {}, options: DeadlineOptions = {}): Promise<SmBinding[]> {
    return this.#list('sm.listBindings', '/v1/service_bindings', query, options, parseBinding);
  }

  /**
   * Deletes a binding and waits for an async delete to finish. Idempotent: a binding that is
   * already gone (404, 410) is fine.
   */
  async deleteBinding(id: string, options: DeadlineOptions = {}): Promise<void> {
    const deadlineAtMs = this.#deadline(options, this.#polling.deadlineMs);
    const url = this.#url(`/v1/service_bindings/${encodeURIComponent(id)}`);
    const response = await this.#exchange({
      operation: 'sm.deleteBinding',
      method: 'DELETE',
      url,
      idempotent: true,
      deadlineAtMs,
    });
    if ([200, 204, 404, 410].includes(response.status)) return;
    if (response.status === 202) {
      await this.#awaitOperation(
        this.#operationUrl('DELETE', url, response),
        'delete',
        deadlineAtMs,
        response,
      );
      return;
    }
    throw this.#error('DELETE', url, response);
  }

  /** Adds or removes labels of a binding (the only fields besides the name the SM lets us change). */
  async updateLabels(
    id: string,
    changes: readonly LabelChange[],
    options: DeadlineOptions = {},
  ): Promise<SmBinding> {
    const url = this.#url(`/v1/service_bindings/${encodeURIComponent(id)}`);
    const response = await this.#exchange({
      operation: 'sm.patchBinding',
      method: 'PATCH',
      url,
      body: { labels: changes },
      idempotent: true,
      deadlineAtMs: this.#deadline(options, this.#retry.deadlineMs),
    });
    if (response.status !== 200) throw this.#error('PATCH', url, response);
    const binding = parseBinding(response.json);
    if (binding === undefined) throw unexpectedBody('PATCH', url, 200, 'the body is no binding');
    return binding;
  }

  async getInstance(id: string, options: DeadlineOptions = {}): Promise<SmInstance | undefined> {
    return this.#getOne(
      'sm.getInstance',
      `/v1/service_instances/${encodeURIComponent(id)}`,
      options,
      parseInstance,
      'service instance',
    );
  }

  /** One resource by its path; undefined on 404/410. */
  async #getOne<T>(
    operation: string,
    path: string,
    options: DeadlineOptions,
    parse: (json: unknown) => T | undefined,
    what: string,
  ): Promise<T | undefined> {
    const url = this.#url(path);
    const response = await this.#exchange({
      operation,
      method: 'GET',
      url,
      idempotent: true,
      deadlineAtMs: this.#deadline(options, this.#retry.deadlineMs),
    });
    if (response.status === 404 || response.status === 410) return undefined;
    if (response.status !== 200) throw this.#error('GET', url, response);
    const resource = parse(response.json);
    if (resource === undefined) throw unexpectedBody('GET', url, 200, `the body is no ${what}`);
    return resource;
  }

  /** The instance of that name; undefined when there is none, BtpConflict when there are several. */
  async findInstanceByName(name: string, options: DeadlineOptions = {}): Promise<SmInstance | undefined> {
    const instances = await this.#list(
      'sm.listInstances',
      '/v1/service_instances',
      { fieldQuery: equalsQuery({ name }) },
      options,
      parseInstance,
    );
    if (instances.length > 1) {
      throw new BtpError(
        'BtpConflict',
        `${describeRequest('GET', this.#url('/v1/service_instances'))}: ${instances.length} service instances carry the requested name`,
      );
    }
    return instances[0];
  }

  /** Closes this credential's connections and forgets its token. */
  async close(): Promise<void> {
    await this.#api.close();
  }

  async #list<T>(
    operation: string,
    path: string,
    query: ListQuery,
    options: DeadlineOptions,
    parse: (json: unknown) => T | undefined,
  ): Promise<T[]> {
    const deadlineAtMs = this.#deadline(options, this.#retry.deadlineMs);
    const items: T[] = [];
    const seenTokens = new Set<string>();
    let token: string | undefined;
    for (let page = 0; page < MAX_LIST_PAGES; page += 1) {
      const url = this.#url(path, {
        fieldQuery: query.fieldQuery,
        labelQuery: query.labelQuery,
        max_items: String(this.#pageSize),
        token,
      });
      const response = await this.#exchange({
        operation,
        method: 'GET',
        url,
        idempotent: true,
        deadlineAtMs,
        responseKind: 'page',
      });
      if (response.status !== 200) throw this.#error('GET', url, response);
      const parsed = parsePage(response.json);
      if (parsed === undefined) throw unexpectedBody('GET', url, 200, 'the body is no list');
      if (items.length + parsed.items.length > MAX_LIST_ITEMS)
        throw listTooLarge(url, `${MAX_LIST_ITEMS} items`);
      for (const item of parsed.items) {
        const value = parse(item);
        if (value === undefined) throw unexpectedBody('GET', url, 200, 'a list item is malformed');
        items.push(value);
      }
      token = parsed.token;
      if (token === undefined || parsed.items.length === 0) return items;
      if (seenTokens.has(token)) throw unexpectedBody('GET', url, 200, 'a paging token repeats');
      seenTokens.add(token);
    }
    throw listTooLarge(this.#url(path), `${MAX_LIST_PAGES} pages`);
  }

  /** Polls an operation until it ends; throws BtpOperationFailed or BtpOperationTimeout. */
  async #awaitOperation(
    url: URL,
    kind: 'create' | 'delete',
    deadlineAtMs: number,
    accepted: BtpResponse,
  ): Promise<void> {
    const startedMs = this.#clock.nowMs();
    let hintMs = parseRetryAfter(accepted.headers['retry-after'], accepted.receivedAtMs);
    let last: SmOperation | undefined;
    for (let poll = 1; ; poll += 1) {
      const waitMs = Math.max(backoffDelay(this.#polling.backoff, poll, this.#random), hintMs ?? 0);
      if (this.#clock.nowMs() + waitMs >= deadlineAtMs)
        throw this.#operationTimeout(url, kind, startedMs, last);
      await sleep(this.#clock, waitMs).promise;
      let response: BtpResponse;
      try {
        response = await this.#exchange({
          operation: 'sm.getOperation',
          method: 'GET',
          url,
          idempotent: true,
          deadlineAtMs,
        });
      } catch (error) {
        if (this.#clock.nowMs() >= deadlineAtMs)
          throw this.#operationTimeout(url, kind, startedMs, last, error);
        throw error;
      }
      if (response.status === 404 || response.status === 410) {
        // The operation is gone with its binding: a delete has done its job; a create has not.
        if (kind === 'delete') return;
        throw new BtpError(
          'BtpOperationFailed',
          `${describeRequest('GET', url)}: the create operation disappeared (${response.status})`,
          { httpStatus: response.status },
        );
      }
      if (response.status !== 200) throw this.#error('GET', url, response);
      const operation = parseOperation(response.json);
      if (operation === undefined) throw unexpectedBody('GET', url, 200, 'the body is no operation');
      last = operation;
      if (operation.state === 'succeeded') return;
      if (operation.state === 'failed') {
        const fields = apiErrorFields(operation.errors, this.#secrets());
        const detail = fields.description ?? fields.error;
        throw new BtpError(
          'BtpOperationFailed',
          `${describeRequest('GET', url)}: the ${kind} operation failed${detail === undefined ? '' : `: ${detail}`}`,
        );
      }
      hintMs = parseRetryAfter(response.headers['retry-after'], response.receivedAtMs);
    }
  }

  #operationTimeout(
    url: URL,
    kind: string,
    startedMs: number,
    last: SmOperation | undefined,
    cause?: unknown,
  ): BtpError {
    const state = last === undefined ? 'unknown' : last.state;
    return new BtpError(
      'BtpOperationTimeout',
      `${describeRequest('GET', url)}: the ${kind} operation was still ${state} after ${this.#clock.nowMs() - startedMs} ms`,
      cause === undefined ? {} : { cause },
    );
  }

  /** The operation URL of a 202; it must point at our own SM host (it will get our token). */
  #operationUrl(method: string, requestUrl: URL, response: BtpResponse): URL {
    const location = headerValue(response.headers.location);
    if (location === undefined) throw unexpectedBody(method, requestUrl, 202, 'there is no Location header');
    let url: URL;
    try {
      url = new URL(location, this.#base);
    } catch {
      throw unexpectedBody(method, requestUrl, 202, 'the Location header is no URL');
    }
    if (url.origin !== this.#base.origin || bindingIdOrUndefined(url) === undefined) {
      throw unexpectedBody(
        method,
        requestUrl,
        202,
        'the Location header names no operation of this Service Manager',
      );
    }
    return url;
  }

  /** Whether the request is under /v1/service_bindings, which has its own, lower limits. */
  #isBindingRequest(url: URL): boolean {
    const bindings = this.#url('/v1/service_bindings').pathname;
    return url.pathname === bindings || url.pathname.startsWith(`${bindings}/`);
  }

  #exchange(spec: Exchange): Promise<BtpResponse> {
    return this.#api.exchange(spec);
  }

  #error(method: string, url: URL, response: BtpResponse): BtpError {
    return this.#api.error(method, url, response);
  }

  #secrets(): string[] {
    return this.#api.secrets();
  }

  #deadline(options: DeadlineOptions, defaultMs: number): number {
    return this.#api.deadline(options, defaultMs);
  }

  #url(path: string, query: Readonly<Record<string, string | undefined>> = {}): URL {
    return this.#api.url(path, query);
  }
}

/** A list longer than the operator reads: the SM is not the one it should be, or misbehaves. */
function listTooLarge(url: URL, limit: string): BtpError {
  return new BtpError(
    'BtpResponseTooLarge',
    `${describeRequest('GET', url)}: the list has more than ${limit}, more than the operator reads`,
    { httpStatus: 200 },
  );
}

const OPERATION_PATH = /\/v1\/service_bindings\/([^/]+)\/operations\/[^/]+$/;

function bindingIdOrUndefined(url: URL): string | undefined {
  const match = OPERATION_PATH.exec(url.pathname);
  return match?.[1] === undefined ? undefined : decodeURIComponent(match[1]);
}

function bindingIdOf(url: URL): string {
  const id = bindingIdOrUndefined(url);
  if (id === undefined) throw new BtpError('BtpUnexpectedResponse', 'an operation URL names no binding');
  return id;
}
