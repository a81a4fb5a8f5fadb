// The Service Manager REST API, the part the operator uses (btp.md section 4): bindings
// (create sync or async, read, list with fieldQuery/labelQuery and paging, label/name
// update, delete), their operations, and read-only instances, offerings and plans.
// Every request needs a bearer token issued by the simulator's XSUAA to an SM client.
import { randomUUID } from 'node:crypto';
import type { RequestListener } from 'node:http';
import type { Logger } from 'pino';
import { credentialRequest } from './binding-parameters.ts';
import type { Binding, BindingStore, Execution, LabelChange, Labels } from './bindings.ts';
import type { Clock } from './clock.ts';
import type { Counters } from './counters.ts';
import type { FaultBook } from './faults.ts';
import { createPipeline, type Reply, type RequestContext, reply, retryAfterHeaders } from './http.ts';
import {
  InputError,
  optionalString,
  parseJson,
  requireOneOf,
  requireRecord,
  requireString,
  requireStringArray,
} from './input.ts';
import type { Catalogue, ServiceInstance } from './instances.ts';
import type { CredentialIssuer } from './issue-credentials.ts';
import type { AsyncSettings, Operation } from './operations.ts';
import { pageOf, parseMaxItems } from './paging.ts';
import { type Criterion, matchesFields, matchesLabels, parseQuery, requireKnownFields } from './query.ts';
import { SlidingWindowLimiter } from './rate-limit.ts';
import { type AsyncRoute, matchRoute, type Route, type RouteRule } from './routes.ts';
import { SmError, smErrorBody } from './sm-errors.ts';
import type { TokenSigner } from './tokens.ts';

/** The scope an SM access client's tokens carry and the Service Manager requires. */
export const SM_SCOPE = 'service-manager!b1.subaccount.admin';

export interface SmAsyncConfig {
  /** Answer creates with 202 + Location unless the request says `async=false`. */
  readonly create: boolean;
  /** Answer deletes with 202 + Location unless the request says `async=false`. */
  readonly delete: boolean;
  readonly polls: number;
  readonly durationMs: number;
}

/** Requests per caller; the documented limits are SM_DOCUMENTED_RATE_LIMITS. */
export interface SmRateLimits {
  readonly allPerMinute: number;
  readonly allPerHour: number;
  readonly bindingsPerMinute: number;
  readonly bindingsPerHour: number;
}

export const SM_DOCUMENTED_RATE_LIMITS: SmRateLimits = {
  allPerMinute: 1000,
  allPerHour: 10_000,
  bindingsPerMinute: 600,
  bindingsPerHour: 6000,
};

export interface ServiceManagerDeps {
  readonly store: BindingStore;
  readonly catalogue: Catalogue;
  readonly issuer: CredentialIssuer;
  readonly signer: TokenSigner;
  readonly clock: Clock;
  readonly counters: Counters;
  readonly faults: FaultBook;
  readonly logger: Logger;
  readonly async: () => SmAsyncConfig;
  readonly rateLimits: SmRateLimits | null;
  /** The ID of the next binding created, when one was chosen (an attacker's Service Manager). */
  readonly nextBindingId: () => string | undefined;
}

const RULES: readonly RouteRule<Route>[] = [
  { method: 'POST', pattern: /^\/v1\/service_bindings\/?$/, route: 'sm.createBinding' },
  { method: 'GET', pattern: /^\/v1\/service_bindings\/?$/, route: 'sm.listBindings' },
  {
    method: 'GET',
    pattern: /^\/v1\/service_bindings\/(?<id>[^/]+)\/operations\/(?<operationId>[^/]+)$/,
    route: 'sm.getOperation',
  },
  { method: 'GET', pattern: /^\/v1\/service_bindings\/(?<id>[^/]+)$/, route: 'sm.getBinding' },
  { method: 'PATCH', pattern: /^\/v1\/service_bindings\/(?<id>[^/]+)$/, route: 'sm.patchBinding' },
  { method: 'DELETE', pattern: /^\/v1\/service_bindings\/(?<id>[^/]+)$/, route: 'sm.deleteBinding' },
  { method: 'GET', pattern: /^\/v1\/service_instances\/?$/, route: 'sm.listInstances' },
  { method: 'GET', pattern: /^\/v1\/service_instances\/(?<id>[^/]+)$/, route: 'sm.getInstance' },
  { method: 'GET', pattern: /^\/v1\/service_offerings\/?$/, route: 'sm.listOfferings' },
  { method: 'GET', pattern: /^\/v1\/service_offerings\/(?<id>[^/]+)$/, route: 'sm.getOffering' },
  { method: 'GET', pattern: /^\/v1\/service_plans\/?$/, route: 'sm.listPlans' },
  { method: 'GET', pattern: /^\/v1\/service_plans\/(?<id>[^/]+)$/, route: 'sm.getPlan' },
];

/** Routes under /v1/service_bindings, which have their own, lower rate limits. */
export const BINDING_ROUTES: readonly Route[] = [
  'sm.createBinding',
  'sm.getBinding',
  'sm.listBindings',
  'sm.patchBinding',
  'sm.deleteBinding',
  'sm.getOperation',
];
const BINDING_FIELDS = ['id', 'name', 'service_instance_id', 'ready'] as const;
const INSTANCE_FIELDS = ['id', 'name', 'service_plan_id', 'ready'] as const;
const NAMED_FIELDS = ['id', 'name'] as const;
const LABEL_OPS = ['add', 'add_values', 'remove', 'remove_values'] as const;

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

export function operationView(operation: Operation): Record<string, unknown> {
  return {
    id: operation.id,
    ready: operation.state === 'succeeded',
    type: operation.type,
    state: operation.state,
    resource_id: operation.bindingId,
    resource_type: '/v1/service_bindings',
    description: `${operation.type} ${operation.state}`,
    reschedule: false,
    deletion_scheduled: '0001-01-01T00:00:00Z',
    created_at: iso(operation.createdAt),
    updated_at: iso(operation.updatedAt),
    ...(operation.state === 'failed'
      ? { errors: { error: 'Failed', description: `simulated ${operation.type} failure` } }
      : {}),
  };
}

export function bindingView(binding: Binding): Record<string, unknown> {
  return {
    id: binding.id,
    name: binding.name,
    service_instance_id: binding.instanceId,
    credentials: binding.issued.credentials,
    labels: binding.labels,
    ready: binding.phase !== 'creating',
    usable: true,
    last_operation: operationView(binding.lastOperation),
    created_at: iso(binding.createdAt),
    updated_at: iso(binding.updatedAt),
  };
}

function instanceView(instance: ServiceInstance): Record<string, unknown> {
  return {
    id: instance.id,
    name: instance.name,
    service_plan_id: instance.planId,
    platform_id: 'service-manager',
    ready: true,
    usable: true,
    labels: {},
    context: { platform: 'sapcp', instance_name: instance.name },
    created_at: iso(instance.createdAt.getTime()),
    updated_at: iso(instance.createdAt.getTime()),
  };
}

function operationLocation(operation: Operation): string {
  return `/v1/service_bindings/${operation.bindingId}/operations/${operation.id}`;
}

function parseLabels(value: unknown): Labels {
  if (value === undefined) return {};
  const record = requireRecord(value, 'labels');
  const labels: Labels = {};
  for (const [key, values] of Object.entries(record))
    labels[key] = requireStringArray(values, `labels.${key}`);
  return labels;
}

function parseLabelChanges(value: unknown): LabelChange[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw new InputError('labels must be an array of label changes');
  return value.map((item: unknown, index): LabelChange => {
    const change = requireRecord(item, `labels[${index}]`);
    const op = requireOneOf(change.op, LABEL_OPS, `labels[${index}].op`);
    const key = requireString(change.key, `labels[${index}].key`);
    const values =
      change.values === undefined ? undefined : requireStringArray(change.values, `labels[${index}].values`);
    if (op === 'add' || op === 'add_values') {
      if (values === undefined || values.length === 0)
        throw new InputError(`labels[${index}]: ${op} needs values`);
      return { op: 'add', key, values };
    }
    return { op: 'remove', key, values };
  });
}

function parseAsyncParameter(url: URL): boolean | undefined {
  const value = url.searchParams.get('async');
  if (value === null) return undefined;
  if (value !== 'true' && value !== 'false') throw new InputError('async must be true or false');
  return value === 'true';
}

interface Listing<T> {
  readonly fields: readonly string[];
  readonly fieldsOf: (item: T) => Record<string, string>;
  readonly labelsOf: (item: T) => Labels;
  /** Stable, increasing per item: the paging token names it. */
  readonly sequenceOf: (item: T) => number;
  readonly view: (item: T) => unknown;
}

/** A list answer: fieldQuery and labelQuery filters, then one page. */
function listOf<T>(url: URL, items: readonly T[], listing: Listing<T>): Reply {
  const fields = query(url, 'fieldQuery');
  requireKnownFields(fields, listing.fields);
  const labels = query(url, 'labelQuery');
  const matching = items.filter(
    (item) => matchesFields(fields, listing.fieldsOf(item)) && matchesLabels(labels, listing.labelsOf(item)),
  );
  const page = pageOf(
    matching,
    listing.sequenceOf,
    parseMaxItems(url.searchParams.get('max_items')),
    url.searchParams.get('token'),
  );
  return reply(200, {
    num_items: page.numItems,
    items: page.items.map(listing.view),
    ...(page.token === undefined ? {} : { token: page.token }),
  });
}

/** Catalogue entries never go away, so their position is a stable sequence. */
function catalogueListing<T>(
  items: readonly T[],
  fields: readonly string[],
  fieldsOf: (item: T) => Record<string, string>,
  view: (item: T) => unknown,
): Listing<T> {
  return { fields, fieldsOf, labelsOf: () => ({}), sequenceOf: (item) => items.indexOf(item), view };
}

function query(url: URL, name: string): Criterion[] {
  const text = url.searchParams.get(name);
  return text === null || text.trim() === '' ? [] : parseQuery(text);
}

export function createServiceManager(deps: ServiceManagerDeps): RequestListener {
  const { store, catalogue, clock, faults } = deps;
  const limiters = new Map<string, SlidingWindowLimiter[]>();
  let clientSequence = 0;

  const authenticate = (context: RequestContext): string => {
    const header = context.req.headers.authorization;
    if (header === undefined || !/^bearer /i.test(header)) {
      throw new SmError('Unauthorized', 'authentication failed: no bearer token');
    }
    const verdict = deps.signer.verify(header.slice(7).trim());
    if (!verdict.ok) throw new SmError('Unauthorized', `authentication failed: token ${verdict.reason}`);
    if (!verdict.token.scopes.includes(SM_SCOPE)) {
      throw new SmError('Forbidden', `token lacks scope ${SM_SCOPE}`);
    }
    return verdict.token.clientId;
  };

  const callerLimiters = (caller: string, bindings: boolean): SlidingWindowLimiter[] => {
    const limits = deps.rateLimits;
    if (limits === null) return [];
    const key = `${caller}\u0000${bindings ? 'bindings' : 'all'}`;
    let found = limiters.get(key);
    if (found === undefined) {
      found = bindings
        ? [
            new SlidingWindowLimiter(limits.bindingsPerMinute, 60_000),
            new SlidingWindowLimiter(limits.bindingsPerHour, 3_600_000),
          ]
        : [
            new SlidingWindowLimiter(limits.allPerMinute, 60_000),
            new SlidingWindowLimiter(limits.allPerHour, 3_600_000),
          ];
      limiters.set(key, found);
    }
    return found;
  };

  const rateLimited = (caller: string, route: Route): Reply | undefined => {
    const now = clock.now();
    const relevant = [...callerLimiters(caller, false)];
    if (BINDING_ROUTES.includes(route)) {
      relevant.push(...callerLimiters(caller, true));
    }
    for (const limiter of relevant) {
      const admission = limiter.tryAcquire(now);
      if (!admission.ok) {
        return reply(
          429,
          smErrorBody(429, 'rate limit exceeded'),
          retryAfterHeaders({ form: 'http-date', seconds: Math.ceil(admission.retryAfterMs / 1000) }, now),
        );
      }
    }
    return undefined;
  };

  const execution = (route: AsyncRoute, requested: boolean | undefined, configured: boolean): Execution => {
    const { polls, durationMs } = deps.async();
    const settings: AsyncSettings = { polls, durationMs };
    switch (faults.takeOperationFault(route)) {
      case 'async':
        return { async: true, outcome: 'succeed', settings };
      case 'stuck':
        return { async: true, outcome: 'stuck', settings };
      case 'fail':
        return { async: true, outcome: 'fail', settings };
      case undefined:
        return (requested ?? configured) ? { async: true, outcome: 'succeed', settings } : { async: false };
    }
  };

  const createBinding = async (context: RequestContext): Promise<Reply> => {
    const body = requireRecord(parseJson(await context.body(), 'request body'), 'request body');
    const name = requireString(body.name, 'name');
    const instanceId = requireString(body.service_instance_id, 'service_instance_id');
    const labels = parseLabels(body.labels);
    const instance = catalogue.instance(instanceId);
    if (instance === undefined) throw new InputError(`service instance ${instanceId} not found`);
    const request = credentialRequest(instance.offeringKind, body.parameters);
    const requestedAsync = parseAsyncParameter(context.url);
    store.assertNameFree(name, instanceId);

    const id = deps.nextBindingId() ?? randomUUID();
    clientSequence += 1;
    const clientid = `sb-${id}!b${clientSequence}|${instance.xsappname.replace('!t', '!b')}`;
    const issued = await deps.issuer.issue(instance, clientid, id, request);
    const run = execution('sm.createBinding', requestedAsync, deps.async().create);
    const { binding, operation } = store.create({ id, name, instanceId, labels, issued }, run);
    if (!run.async) return reply(201, bindingView(binding));
    return reply(202, {}, { location: operationLocation(operation) });
  };

  const listBindings = (url: URL): Reply =>
    listOf(url, store.list(), {
      fields: BINDING_FIELDS,
      fieldsOf: (binding) => ({
        id: binding.id,
        name: binding.name,
        service_instance_id: binding.instanceId,
        ready: String(binding.phase !== 'creating'),
      }),
      labelsOf: (binding) => binding.labels,
      sequenceOf: (binding) => binding.sequence,
      view: bindingView,
    });

  const getBinding = (id: string): Reply => {
    const binding = store.get(id);
    if (binding === undefined) throw new SmError('NotFound', `binding ${id} not found`);
    return reply(200, bindingView(binding));
  };

  const patchBinding = async (context: RequestContext, id: string): Promise<Reply> => {
    const body = requireRecord(parseJson(await context.body(), 'request body'), 'request body');
    const name = optionalString(body.name, 'name');
    const changes = parseLabelChanges(body.labels);
    return reply(200, bindingView(store.update(id, name, changes)));
  };

  const deleteBinding = (context: RequestContext, id: string): Reply => {
    const requestedAsync = parseAsyncParameter(context.url);
    const operation = store.delete(id, () =>
      execution('sm.deleteBinding', requestedAsync, deps.async().delete),
    );
    if (operation.state === 'succeeded') return reply(200, {});
    return reply(202, {}, { location: operationLocation(operation) });
  };

  const getOperation = (bindingId: string, operationId: string): Reply => {
    const operation = store.pollOperation(bindingId, operationId);
    if (operation === undefined) throw new SmError('NotFound', `operation ${operationId} not found`);
    return reply(200, operationView(operation));
  };

  const one = <T>(item: T | undefined, kind: string, id: string, view: (item: T) => unknown): Reply => {
    if (item === undefined) throw new SmError('NotFound', `${kind} ${id} not found`);
    return reply(200, view(item));
  };

  const offeringView = (offering: { id: string; name: string }): Record<string, unknown> => ({
    id: offering.id,
    name: offering.name,
    catalog_name: offering.name,
    ready: true,
  });
  const planView = (plan: { id: string; name: string; offeringId: string }): Record<string, unknown> => ({
    id: plan.id,
    name: plan.name,
    catalog_name: plan.name,
    service_offering_id: plan.offeringId,
    ready: true,
  });

  const route = async (context: RequestContext): Promise<Reply> => {
    const id = context.params.id ?? '';
    switch (context.route) {
      case 'sm.createBinding':
        return createBinding(context);
      case 'sm.listBindings':
        return listBindings(context.url);
      case 'sm.getBinding':
        return getBinding(id);
      case 'sm.patchBinding':
        return patchBinding(context, id);
      case 'sm.deleteBinding':
        return deleteBinding(context, id);
      case 'sm.getOperation':
        return getOperation(id, context.params.operationId ?? '');
      case 'sm.listInstances': {
        const instances = catalogue.instances();
        return listOf(
          context.url,
          instances,
          catalogueListing(
            instances,
            INSTANCE_FIELDS,
            (instance) => ({
              id: instance.id,
              name: instance.name,
              service_plan_id: instance.planId,
              ready: 'true',
            }),
            instanceView,
          ),
        );
      }
      case 'sm.getInstance':
        return one(catalogue.instance(id), 'service instance', id, instanceView);
      case 'sm.listOfferings': {
        const offerings = catalogue.offerings();
        return listOf(
          context.url,
          offerings,
          catalogueListing(offerings, NAMED_FIELDS, (offering) => ({ ...offering }), offeringView),
        );
      }
      case 'sm.getOffering':
        return one(
          catalogue.offerings().find((offering) => offering.id === id),
          'service offering',
          id,
          offeringView,
        );
      case 'sm.listPlans': {
        const plans = catalogue.plans();
        return listOf(
          context.url,
          plans,
          catalogueListing(
            plans,
            [...NAMED_FIELDS, 'service_offering_id'],
            (plan) => ({ id: plan.id, name: plan.name, service_offering_id: plan.offeringId }),
            planView,
          ),
        );
      }
      case 'sm.getPlan':
        return one(
          catalogue.plans().find((plan) => plan.id === id),
          'service plan',
          id,
          planView,
        );
      default:
        throw new SmError('NotFound', 'not found');
    }
  };

  return createPipeline({
    clock,
    counters: deps.counters,
    faults,
    logger: deps.logger,
    errorBody: smErrorBody,
    match: (method, pathname) => matchRoute(RULES, method, pathname),
    notFound: 'sm.notFound',
    handle: async (context) => {
      try {
        const caller = authenticate(context);
        deps.counters.smRequestAuthenticated(caller, context.route);
        const limited = rateLimited(caller, context.route);
        if (limited !== undefined) return limited;
        return await route(context);
      } catch (error) {
        if (error instanceof SmError) return reply(error.status, error.body());
        throw error;
      }
    },
  });
}
