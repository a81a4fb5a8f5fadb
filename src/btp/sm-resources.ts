// Service Manager resources as the operator sees them, parsed from `unknown` JSON (btp.md §4).
// A binding carries credentials (keys, certificates): its toJSON and inspect views leave them out,
// so a binding that ends up in a log line or an error shows no key material.
import { isRecord, nonEmptyString, optionalString, parseLabels } from './parse.ts';

export type Labels = Readonly<Record<string, readonly string[]>>;

export const OPERATION_STATES = ['pending', 'in progress', 'succeeded', 'failed'] as const;
export type OperationState = (typeof OPERATION_STATES)[number];

export interface SmOperation {
  readonly id: string;
  readonly type: string | undefined;
  /** Unknown states read as `in progress`: keep polling. */
  readonly state: OperationState;
  readonly resourceId: string | undefined;
  readonly description: string | undefined;
  /** The `errors` of a failed operation: `{error, description}` when present. */
  readonly errors: unknown;
}

export interface SmBinding {
  readonly id: string;
  readonly name: string;
  readonly serviceInstanceId: string;
  /** Key material: never log. toJSON/inspect of the binding omit it. */
  readonly credentials: Readonly<Record<string, unknown>>;
  readonly labels: Labels;
  readonly ready: boolean;
  readonly createdAt: string | undefined;
  readonly updatedAt: string | undefined;
  readonly lastOperation: SmOperation | undefined;
}

export interface SmInstance {
  readonly id: string;
  readonly name: string;
  readonly servicePlanId: string | undefined;
  readonly ready: boolean;
  readonly labels: Labels;
}

export interface SmPage {
  readonly items: readonly unknown[];
  readonly token: string | undefined;
  readonly numItems: number | undefined;
}

function isOperationState(value: unknown): value is OperationState {
  return typeof value === 'string' && (OPERATION_STATES as readonly string[]).includes(value);
}

export function parseOperation(json: unknown): SmOperation | undefined {
  if (!isRecord(json)) return undefined;
  const id = nonEmptyString(json.id);
  if (id === undefined) return undefined;
  return {
    id,
    type: optionalString(json.type),
    state: isOperationState(json.state) ? json.state : 'in progress',
    resourceId: optionalString(json.resource_id),
    description: optionalString(json.description),
    errors: json.errors,
  };
}

/** Leaves the credentials out of JSON and inspect views (non-enumerable, so `toEqual` ignores them). */
function redactCredentials(binding: SmBinding): SmBinding {
  const view = (): Record<string, unknown> => ({ ...binding, credentials: '[redacted]' });
  Object.defineProperty(binding, 'toJSON', { value: view, enumerable: false });
  Object.defineProperty(binding, Symbol.for('nodejs.util.inspect.custom'), {
    value: view,
    enumerable: false,
  });
  return Object.freeze(binding);
}

export function parseBinding(json: unknown): SmBinding | undefined {
  if (!isRecord(json)) return undefined;
  const id = nonEmptyString(json.id);
  const name = optionalString(json.name);
  const serviceInstanceId = nonEmptyString(json.service_instance_id);
  if (id === undefined || name === undefined || serviceInstanceId === undefined) return undefined;
  return redactCredentials({
    id,
    name,
    serviceInstanceId,
    credentials: isRecord(json.credentials) ? json.credentials : {},
    labels: parseLabels(json.labels),
    ready: json.ready !== false,
    createdAt: optionalString(json.created_at),
    updatedAt: optionalString(json.updated_at),
    lastOperation: parseOperation(json.last_operation),
  });
}

export function parseInstance(json: unknown): SmInstance | undefined {
  if (!isRecord(json)) return undefined;
  const id = nonEmptyString(json.id);
  const name = optionalString(json.name);
  if (id === undefined || name === undefined) return undefined;
  return {
    id,
    name,
    servicePlanId: optionalString(json.service_plan_id),
    ready: json.ready !== false,
    labels: parseLabels(json.labels),
  };
}

export function parsePage(json: unknown): SmPage | undefined {
  if (!isRecord(json) || !Array.isArray(json.items)) return undefined;
  return {
    items: json.items,
    token: nonEmptyString(json.token),
    numItems: typeof json.num_items === 'number' ? json.num_items : undefined,
  };
}
