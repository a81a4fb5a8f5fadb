// The admin API, plain HTTP on loopback, for a simulator running in another process:
//   GET    /state                urls, CA bundle, SM credentials, instances
//   GET    /counters             counters (see counters.ts) + live bindings per instance
//   POST   /counters/reset       204
//   GET    /faults               active faults
//   POST   /faults               one fault or an array (faults.ts) -> 201 {ids}
//   DELETE /faults[/{id}]        clear all, or one -> 204 | 404
//   GET    /bindings             live bindings (ids, names, labels, certificate facts; never keys)
//   DELETE /bindings/{id}        remove a binding out of band (as if deleted in the cockpit) -> 204 | 404
//   POST   /binding-ids          {ids: string[]}: the next bindings created take these IDs, in order
//                                (a tenant's own Service Manager answering with another's) -> 204
//   PATCH  /settings             {lifetimeOverrideSeconds?: number|null, notBeforeBackdateSeconds?: number,
//                                 async?: {...}} -> 200 settings
//   POST   /sm-credentials/x509  {validitySeconds?} -> 201 new x509 SM access credentials
//   POST   /reset                clear faults and counters -> 204
//   GET    /request-bodies       every request body the BTP servers received [{route, method, path, atMs, body}]
//   POST   /destination-service/destinations    {configuration: {Name, ...}, level?, instanceId?} -> 204
//   DELETE /destination-service/destinations/{name}[?level=&instanceId=]              -> 204 | 404
//   GET    /destination-service/certificates    stored files (never their content)
//   POST   /destination-service/certificates    {name, level?, instanceId?, format?, password?,
//                                               commonName?, validitySeconds?} -> 201 seeded keystore
//                                               (content base64, chainPem, keyPem, fingerprint256, ...)
// Requests and answers are JSON; errors are {error, description} with 400 or 404.
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { MAX_NOT_BEFORE_BACKDATE_SECONDS, parseAsyncConfig } from './config.ts';
import { CERTIFICATE_LEVELS, type Owner, type SeedRequest } from './destination-store.ts';
import { type ActiveFault, type Fault, parseFault } from './faults.ts';
import { readBody } from './http.ts';
import {
  InputError,
  optionalBoolean,
  optionalInteger,
  optionalString,
  parseJson,
  rejectUnknownKeys,
  requireInteger,
  requireOneOf,
  requireRecord,
  requireString,
  requireStringArray,
} from './input.ts';
import { KEYSTORE_FORMATS } from './keystores.ts';
import type { SmAsyncConfig } from './service-manager.ts';
import type { DestinationAdmin } from './simulator.ts';
import type { SmX509Credentials } from './sm-credentials.ts';

export interface SettingsPatch {
  readonly lifetimeOverrideSeconds?: number | null;
  readonly notBeforeBackdateSeconds?: number;
  readonly async?: Partial<SmAsyncConfig>;
  /** False: the Destination service renews nothing (a renewal that does not come). */
  readonly destinationAutoRenew?: boolean;
}

export interface Settings {
  readonly lifetimeOverrideSeconds: number | null;
  readonly notBeforeBackdateSeconds: number;
  readonly async: SmAsyncConfig;
  readonly destinationAutoRenew: boolean;
}

/** What the admin API needs from the simulator. */
export interface AdminTarget {
  state(): unknown;
  counters(): unknown;
  resetCounters(): void;
  activeFaults(): readonly ActiveFault[];
  injectFault(fault: Fault): string;
  removeFault(id: string): boolean;
  clearFaults(): void;
  bindings(): unknown;
  removeBinding(id: string): boolean;
  answerWithBindingIds(ids: readonly string[]): void;
  updateSettings(patch: SettingsPatch): Settings;
  issueSmX509Credentials(options?: { validitySeconds?: number }): Promise<SmX509Credentials>;
  reset(): void;
  requestBodies(): unknown;
  readonly destinations: DestinationAdmin;
}

function parseOwner(level: unknown, instanceId: unknown): Owner {
  const chosen = level === undefined ? 'subaccount' : requireOneOf(level, CERTIFICATE_LEVELS, 'level');
  if (chosen === 'subaccount') return { level: 'subaccount' };
  return { level: 'instance', instanceId: requireString(instanceId, 'instanceId') };
}

function parseSeedRequest(value: unknown): SeedRequest {
  const body = requireRecord(value, 'request body');
  rejectUnknownKeys(
    body,
    ['name', 'level', 'instanceId', 'format', 'password', 'commonName', 'validitySeconds'],
    'request body',
  );
  const format =
    body.format === undefined ? undefined : requireOneOf(body.format, KEYSTORE_FORMATS, 'format');
  const password = optionalString(body.password, 'password');
  const commonName = optionalString(body.commonName, 'commonName');
  const validitySeconds = optionalInteger(body.validitySeconds, 'validitySeconds', 1, 315_360_000);
  return {
    name: requireString(body.name, 'name'),
    owner: parseOwner(body.level, body.instanceId),
    ...(format === undefined ? {} : { format }),
    ...(password === undefined ? {} : { password }),
    ...(commonName === undefined ? {} : { commonName }),
    ...(validitySeconds === undefined ? {} : { validitySeconds }),
  };
}

function parseConfiguration(value: unknown): Record<string, string> {
  const record = requireRecord(value, 'configuration');
  const configuration: Record<string, string> = {};
  for (const [key, item] of Object.entries(record)) {
    if (typeof item !== 'string') throw new InputError(`configuration.${key} must be a string`);
    configuration[key] = item;
  }
  return configuration;
}

function send(res: ServerResponse, status: number, body?: unknown): void {
  const payload = body === undefined ? '' : JSON.stringify(body);
  res.writeHead(status, body === undefined ? {} : { 'content-type': 'application/json' });
  res.end(payload);
}

async function jsonBody(req: IncomingMessage): Promise<unknown> {
  const text = await readBody(req);
  return text.trim() === '' ? {} : parseJson(text, 'request body');
}

function parseSettingsPatch(value: unknown): SettingsPatch {
  const record = requireRecord(value, 'settings');
  rejectUnknownKeys(
    record,
    ['lifetimeOverrideSeconds', 'notBeforeBackdateSeconds', 'async', 'destinationAutoRenew'],
    'settings',
  );
  const patch: {
    lifetimeOverrideSeconds?: number | null;
    notBeforeBackdateSeconds?: number;
    async?: Partial<SmAsyncConfig>;
    destinationAutoRenew?: boolean;
  } = {};
  const autoRenew = optionalBoolean(record.destinationAutoRenew, 'destinationAutoRenew');
  if (autoRenew !== undefined) patch.destinationAutoRenew = autoRenew;
  if (record.lifetimeOverrideSeconds !== undefined) {
    patch.lifetimeOverrideSeconds =
      record.lifetimeOverrideSeconds === null
        ? null
        : requireInteger(record.lifetimeOverrideSeconds, 'lifetimeOverrideSeconds', 1, 315_360_000);
  }
  if (record.notBeforeBackdateSeconds !== undefined) {
    patch.notBeforeBackdateSeconds = requireInteger(
      record.notBeforeBackdateSeconds,
      'notBeforeBackdateSeconds',
      0,
      MAX_NOT_BEFORE_BACKDATE_SECONDS,
    );
  }
  const async = parseAsyncConfig(record.async);
  if (async !== undefined) patch.async = async;
  return patch;
}

export function createAdmin(target: AdminTarget, logger: Logger): RequestListener {
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const { pathname } = new URL(req.url ?? '/', 'http://admin.invalid');
    const method = req.method ?? 'GET';
    const faultId = /^\/faults\/([^/]+)$/.exec(pathname)?.[1];
    const bindingId = /^\/bindings\/([^/]+)$/.exec(pathname)?.[1];
    if (method === 'GET' && pathname === '/state') return send(res, 200, target.state());
    if (method === 'GET' && pathname === '/counters') return send(res, 200, target.counters());
    if (method === 'POST' && pathname === '/counters/reset') {
      target.resetCounters();
      return send(res, 204);
    }
    if (method === 'GET' && pathname === '/faults') return send(res, 200, target.activeFaults());
    if (method === 'POST' && pathname === '/faults') {
      const body = await jsonBody(req);
      const faults = (Array.isArray(body) ? body : [body]).map(parseFault);
      return send(res, 201, { ids: faults.map((fault) => target.injectFault(fault)) });
    }
    if (method === 'DELETE' && pathname === '/faults') {
      target.clearFaults();
      return send(res, 204);
    }
    if (method === 'DELETE' && faultId !== undefined) {
      return target.removeFault(faultId)
        ? send(res, 204)
        : send(res, 404, { error: 'NotFound', description: faultId });
    }
    if (method === 'GET' && pathname === '/bindings') return send(res, 200, target.bindings());
    if (method === 'DELETE' && bindingId !== undefined) {
      return target.removeBinding(bindingId)
        ? send(res, 204)
        : send(res, 404, { error: 'NotFound', description: bindingId });
    }
    if (method === 'POST' && pathname === '/binding-ids') {
      const body = requireRecord(await jsonBody(req), 'request body');
      rejectUnknownKeys(body, ['ids'], 'request body');
      target.answerWithBindingIds(requireStringArray(body.ids, 'ids'));
      return send(res, 204);
    }
    if (method === 'PATCH' && pathname === '/settings') {
      return send(res, 200, target.updateSettings(parseSettingsPatch(await jsonBody(req))));
    }
    if (method === 'POST' && pathname === '/sm-credentials/x509') {
      const body = requireRecord(await jsonBody(req), 'request body');
      rejectUnknownKeys(body, ['validitySeconds'], 'request body');
      const validitySeconds = optionalInteger(body.validitySeconds, 'validitySeconds', 1, 315_360_000);
      return send(
        res,
        201,
        await target.issueSmX509Credentials(validitySeconds === undefined ? {} : { validitySeconds }),
      );
    }
    if (method === 'GET' && pathname === '/request-bodies') return send(res, 200, target.requestBodies());
    const destinationName = /^\/destination-service\/destinations\/([^/]+)$/.exec(pathname)?.[1];
    if (method === 'POST' && pathname === '/destination-service/destinations') {
      const body = requireRecord(await jsonBody(req), 'request body');
      rejectUnknownKeys(body, ['configuration', 'level', 'instanceId'], 'request body');
      target.destinations.putDestination(
        parseConfiguration(body.configuration),
        parseOwner(body.level, body.instanceId),
      );
      return send(res, 204);
    }
    if (method === 'DELETE' && destinationName !== undefined) {
      const query = new URL(req.url ?? '/', 'http://admin.invalid').searchParams;
      const owner = parseOwner(query.get('level') ?? undefined, query.get('instanceId') ?? undefined);
      const name = decodeURIComponent(destinationName);
      return target.destinations.removeDestination(name, owner)
        ? send(res, 204)
        : send(res, 404, { error: 'NotFound', description: name });
    }
    if (method === 'GET' && pathname === '/destination-service/certificates') {
      return send(res, 200, target.destinations.certificates());
    }
    if (method === 'POST' && pathname === '/destination-service/certificates') {
      const seeded = await target.destinations.seedCertificate(parseSeedRequest(await jsonBody(req)));
      return send(res, 201, {
        ...seeded,
        content: seeded.content.toString('base64'),
        notBefore: seeded.notBefore.toISOString(),
        notAfter: seeded.notAfter.toISOString(),
      });
    }
    if (method === 'POST' && pathname === '/reset') {
      target.reset();
      return send(res, 204);
    }
    return send(res, 404, { error: 'NotFound', description: `no admin route for ${method} ${pathname}` });
  };
  return (req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (error instanceof InputError) {
        send(res, 400, { error: 'BadRequest', description: error.message });
        return;
      }
      logger.error({ err: error }, 'admin request failed');
      send(res, 500, { error: 'InternalServerError', description: 'admin request failed' });
    });
  };
}
