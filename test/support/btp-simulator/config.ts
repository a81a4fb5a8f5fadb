// The simulator's configuration: what a test passes to startSimulator, what the CLI reads
// from a JSON file, and the defaults. JSON is parsed from `unknown`; unknown keys are errors.
import type { Logger } from 'pino';
import { type Clock, systemClock } from './clock.ts';
import { type Fault, parseFault } from './faults.ts';
import {
  InputError,
  optionalBoolean,
  optionalInteger,
  optionalString,
  rejectUnknownKeys,
  requireInteger,
  requireRecord,
} from './input.ts';
import { DEFAULT_INSTANCES, type InstanceSpec, parseInstanceSpec } from './instances.ts';
import { isKeyLength, KEY_LENGTHS, type KeyLength } from './key-pool.ts';
import { SM_DOCUMENTED_RATE_LIMITS, type SmAsyncConfig, type SmRateLimits } from './service-manager.ts';

export interface PortsConfig {
  readonly sm?: number;
  readonly xsuaa?: number;
  readonly xsuaaCert?: number;
  readonly admin?: number;
  readonly destination?: number;
  readonly otherXsuaa?: number;
  readonly otherXsuaaCert?: number;
}

export interface KeyPoolConfig {
  /** Ready 2048-bit keys to keep (default 4). */
  readonly size?: number;
  /** Per key length, overriding `size` for 2048 (4096 default 2, 8192 default 0: on demand). */
  readonly sizes?: Partial<Record<KeyLength, number>>;
  /** Background key generations in flight (default 2). */
  readonly concurrency?: number;
  /** Key lengths filled from the start (default [2048]); others fill once first asked for. */
  readonly prefill?: readonly KeyLength[];
}

export interface SimulatorConfig {
  /** 0 (default) picks a free port. Everything listens on 127.0.0.1 only. */
  readonly ports?: PortsConfig;
  readonly subaccountId?: string;
  /** The identity zone's subdomain. */
  readonly identityZone?: string;
  readonly instances?: readonly InstanceSpec[];
  /** expires_in of issued tokens (default 43199). */
  readonly tokenExpiresInSeconds?: number;
  /** Per token endpoint (default 60, as documented); null turns the limit off. */
  readonly tokenRateLimitPerSecond?: number | null;
  /** Service Manager limits per caller; off (null) by default, `documented` for btp.md's. */
  readonly smRateLimits?: SmRateLimits | 'documented' | null;
  /** Async create/delete (default off) and how many polls / how long an operation takes. */
  readonly async?: Partial<SmAsyncConfig>;
  /** Simulator-only: every issued binding certificate lives exactly this long. */
  readonly lifetimeOverrideSeconds?: number | null;
  /**
   * notBefore of issued binding certificates lies this many seconds before the issue time, as CAs
   * that tolerate clock skew backdate it (default 0); notAfter stays issue time + lifetime.
   */
  readonly notBeforeBackdateSeconds?: number;
  readonly keyPool?: KeyPoolConfig;
  /** Lifetime of the SM x509 access certificate (default 30 days). */
  readonly smCredentialValiditySeconds?: number;
  /** Faults active from the start. */
  readonly faults?: readonly Fault[];
  readonly clock?: Clock;
  /** Silent when absent. */
  readonly logger?: Logger;
}

export interface ResolvedConfig {
  readonly ports: Required<PortsConfig>;
  readonly subaccountId: string | undefined;
  readonly identityZone: string;
  readonly instances: readonly InstanceSpec[];
  readonly tokenExpiresInSeconds: number;
  readonly tokenRateLimitPerSecond: number | null;
  readonly smRateLimits: SmRateLimits | null;
  readonly async: SmAsyncConfig;
  readonly lifetimeOverrideSeconds: number | null;
  readonly notBeforeBackdateSeconds: number;
  readonly keyPool: {
    readonly sizes: Readonly<Record<KeyLength, number>>;
    readonly concurrency: number;
    readonly prefill: readonly KeyLength[];
  };
  readonly smCredentialValiditySeconds: number;
  readonly faults: readonly Fault[];
  readonly clock: Clock;
  readonly logger: Logger | undefined;
}

export const DEFAULT_TOKEN_EXPIRES_IN_SECONDS = 43_199;
/** A day: more than any CA backdates (seconds to an hour, btp.md section 5). */
export const MAX_NOT_BEFORE_BACKDATE_SECONDS = 86_400;
export const DEFAULT_TOKEN_RATE_LIMIT_PER_SECOND = 60;
export const DEFAULT_ASYNC: SmAsyncConfig = { create: false, delete: false, polls: 3, durationMs: 0 };

export function resolveConfig(config: SimulatorConfig = {}): ResolvedConfig {
  const pool = config.keyPool ?? {};
  return {
    ports: {
      sm: 0,
      xsuaa: 0,
      xsuaaCert: 0,
      admin: 0,
      destination: 0,
      otherXsuaa: 0,
      otherXsuaaCert: 0,
      ...config.ports,
    },
    subaccountId: config.subaccountId,
    identityZone: config.identityZone ?? 'simulator',
    instances: config.instances ?? DEFAULT_INSTANCES,
    tokenExpiresInSeconds: config.tokenExpiresInSeconds ?? DEFAULT_TOKEN_EXPIRES_IN_SECONDS,
    tokenRateLimitPerSecond:
      config.tokenRateLimitPerSecond === undefined
        ? DEFAULT_TOKEN_RATE_LIMIT_PER_SECOND
        : config.tokenRateLimitPerSecond,
    smRateLimits:
      config.smRateLimits === 'documented' ? SM_DOCUMENTED_RATE_LIMITS : (config.smRateLimits ?? null),
    async: { ...DEFAULT_ASYNC, ...config.async },
    lifetimeOverrideSeconds: config.lifetimeOverrideSeconds ?? null,
    notBeforeBackdateSeconds: config.notBeforeBackdateSeconds ?? 0,
    keyPool: {
      sizes: { 2048: pool.size ?? 4, 4096: 2, 8192: 0, ...pool.sizes },
      concurrency: pool.concurrency ?? 2,
      prefill: pool.prefill ?? [2048],
    },
    smCredentialValiditySeconds: config.smCredentialValiditySeconds ?? 30 * 86_400,
    faults: config.faults ?? [],
    clock: config.clock ?? systemClock,
    logger: config.logger,
  };
}

const PORT_MAX = 65_535;

function parsePorts(value: unknown): PortsConfig | undefined {
  if (value === undefined) return undefined;
  const record = requireRecord(value, 'ports');
  const names = ['sm', 'xsuaa', 'xsuaaCert', 'admin', 'destination', 'otherXsuaa', 'otherXsuaaCert'] as const;
  rejectUnknownKeys(record, names, 'ports');
  const ports: Record<string, number> = {};
  for (const key of names) {
    const port = optionalInteger(record[key], `ports.${key}`, 0, PORT_MAX);
    if (port !== undefined) ports[key] = port;
  }
  return ports;
}

export function parseAsyncConfig(value: unknown): Partial<SmAsyncConfig> | undefined {
  if (value === undefined) return undefined;
  const record = requireRecord(value, 'async');
  rejectUnknownKeys(record, ['create', 'delete', 'polls', 'durationMs'], 'async');
  const parsed: { create?: boolean; delete?: boolean; polls?: number; durationMs?: number } = {};
  const create = optionalBoolean(record.create, 'async.create');
  const remove = optionalBoolean(record.delete, 'async.delete');
  const polls = optionalInteger(record.polls, 'async.polls', 0, 1000);
  const durationMs = optionalInteger(record.durationMs, 'async.durationMs', 0, 3_600_000);
  if (create !== undefined) parsed.create = create;
  if (remove !== undefined) parsed.delete = remove;
  if (polls !== undefined) parsed.polls = polls;
  if (durationMs !== undefined) parsed.durationMs = durationMs;
  return parsed;
}

function parseSmRateLimits(value: unknown): SmRateLimits | 'documented' | null | undefined {
  if (value === undefined || value === null || value === 'documented') return value;
  const record = requireRecord(value, 'smRateLimits');
  rejectUnknownKeys(
    record,
    ['allPerMinute', 'allPerHour', 'bindingsPerMinute', 'bindingsPerHour'],
    'smRateLimits',
  );
  const limit = (key: keyof SmRateLimits): number =>
    requireInteger(record[key], `smRateLimits.${key}`, 1, 1_000_000);
  return {
    allPerMinute: limit('allPerMinute'),
    allPerHour: limit('allPerHour'),
    bindingsPerMinute: limit('bindingsPerMinute'),
    bindingsPerHour: limit('bindingsPerHour'),
  };
}

function parseKeyPool(value: unknown): KeyPoolConfig | undefined {
  if (value === undefined) return undefined;
  const record = requireRecord(value, 'keyPool');
  rejectUnknownKeys(record, ['size', 'sizes', 'concurrency', 'prefill'], 'keyPool');
  const size = optionalInteger(record.size, 'keyPool.size', 0, 10_000);
  const concurrency = optionalInteger(record.concurrency, 'keyPool.concurrency', 1, 64);
  const sizes: Partial<Record<KeyLength, number>> = {};
  if (record.sizes !== undefined) {
    const given = requireRecord(record.sizes, 'keyPool.sizes');
    rejectUnknownKeys(given, KEY_LENGTHS.map(String), 'keyPool.sizes');
    for (const length of KEY_LENGTHS) {
      const count = optionalInteger(given[String(length)], `keyPool.sizes.${length}`, 0, 10_000);
      if (count !== undefined) sizes[length] = count;
    }
  }
  if (record.prefill !== undefined && !Array.isArray(record.prefill)) {
    throw new InputError('keyPool.prefill must be an array of key lengths');
  }
  const prefill = record.prefill?.map((length: unknown): KeyLength => {
    if (!isKeyLength(length))
      throw new InputError(`keyPool.prefill entries must be one of ${KEY_LENGTHS.join(', ')}`);
    return length;
  });
  return {
    sizes,
    ...(prefill === undefined ? {} : { prefill }),
    ...(size === undefined ? {} : { size }),
    ...(concurrency === undefined ? {} : { concurrency }),
  };
}

function nullableInteger(value: unknown, what: string, min: number, max: number): number | null | undefined {
  return value === null ? null : optionalInteger(value, what, min, max);
}

/** A SimulatorConfig from JSON (the CLI's --config file); throws InputError when invalid. */
export function parseSimulatorConfig(value: unknown): SimulatorConfig {
  const record = requireRecord(value, 'config');
  rejectUnknownKeys(
    record,
    [
      'ports',
      'subaccountId',
      'identityZone',
      'instances',
      'tokenExpiresInSeconds',
      'tokenRateLimitPerSecond',
      'smRateLimits',
      'async',
      'lifetimeOverrideSeconds',
      'notBeforeBackdateSeconds',
      'keyPool',
      'smCredentialValiditySeconds',
      'faults',
    ],
    'config',
  );
  if (record.instances !== undefined && !Array.isArray(record.instances)) {
    throw new InputError('instances must be an array');
  }
  if (record.faults !== undefined && !Array.isArray(record.faults))
    throw new InputError('faults must be an array');
  const config: Mutable<SimulatorConfig> = {};
  assign(config, 'ports', parsePorts(record.ports));
  assign(config, 'subaccountId', optionalString(record.subaccountId, 'subaccountId'));
  assign(config, 'identityZone', optionalString(record.identityZone, 'identityZone'));
  assign(
    config,
    'instances',
    Array.isArray(record.instances) ? record.instances.map(parseInstanceSpec) : undefined,
  );
  assign(
    config,
    'tokenExpiresInSeconds',
    optionalInteger(record.tokenExpiresInSeconds, 'tokenExpiresInSeconds', 1, 31_536_000),
  );
  assign(
    config,
    'tokenRateLimitPerSecond',
    nullableInteger(record.tokenRateLimitPerSecond, 'tokenRateLimitPerSecond', 1, 1_000_000),
  );
  assign(config, 'smRateLimits', parseSmRateLimits(record.smRateLimits));
  assign(config, 'async', parseAsyncConfig(record.async));
  assign(
    config,
    'lifetimeOverrideSeconds',
    nullableInteger(record.lifetimeOverrideSeconds, 'lifetimeOverrideSeconds', 1, 315_360_000),
  );
  assign(
    config,
    'notBeforeBackdateSeconds',
    optionalInteger(
      record.notBeforeBackdateSeconds,
      'notBeforeBackdateSeconds',
      0,
      MAX_NOT_BEFORE_BACKDATE_SECONDS,
    ),
  );
  assign(config, 'keyPool', parseKeyPool(record.keyPool));
  assign(
    config,
    'smCredentialValiditySeconds',
    optionalInteger(record.smCredentialValiditySeconds, 'smCredentialValiditySeconds', 1, 315_360_000),
  );
  assign(config, 'faults', Array.isArray(record.faults) ? record.faults.map(parseFault) : undefined);
  return config;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

function assign<T, K extends keyof T>(target: T, key: K, value: T[K] | undefined): void {
  if (value !== undefined) target[key] = value;
}
