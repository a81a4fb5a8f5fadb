// The Service Manager's binding store: bindings, their operations, and the rules between
// them (409 for a taken name, 422 while another operation runs, 404 while an async create
// is still running). Unfinished operations advance lazily, whenever the store is read.
import type { Clock } from './clock.ts';
import type { IssuedCredentials } from './issue-credentials.ts';
import {
  type AsyncSettings,
  finishedOperation,
  isFinished,
  type Operation,
  type OperationOutcome,
  progress,
  startOperation,
} from './operations.ts';
import { SmError } from './sm-errors.ts';

export type Labels = Record<string, string[]>;

export interface Binding {
  readonly id: string;
  readonly instanceId: string;
  readonly sequence: number;
  readonly createdAt: number;
  readonly issued: IssuedCredentials;
  name: string;
  labels: Labels;
  updatedAt: number;
  phase: 'creating' | 'ready' | 'deleting';
  lastOperation: Operation;
}

export type LabelChange =
  | { readonly op: 'add'; readonly key: string; readonly values: readonly string[] }
  | { readonly op: 'remove'; readonly key: string; readonly values: readonly string[] | undefined };

/** How one create or delete runs: answered at once, or as an async operation. */
export type Execution =
  | { readonly async: false }
  | { readonly async: true; readonly outcome: OperationOutcome; readonly settings: AsyncSettings };

export interface StoreHooks {
  /** The binding exists now: register its OAuth client. */
  readonly created: (binding: Binding) => void;
  /** The binding is gone: revoke its OAuth client. */
  readonly deleted: (binding: Binding) => void;
}

export interface NewBinding {
  readonly id: string;
  readonly name: string;
  readonly instanceId: string;
  readonly labels: Labels;
  readonly issued: IssuedCredentials;
}

export class BindingStore {
  readonly #clock: Clock;
  readonly #hooks: StoreHooks;
  readonly #bindings = new Map<string, Binding>();
  readonly #operations = new Map<string, Operation>();
  readonly #open = new Set<Operation>();
  #sequence = 0;

  constructor(clock: Clock, hooks: StoreHooks) {
    this.#clock = clock;
    this.#hooks = hooks;
  }

  /** Throws 409 when `name` is taken in the instance (by a binding in any phase). */
  assertNameFree(name: string, instanceId: string, except?: string): void {
    for (const binding of this.#bindings.values()) {
      if (binding.id !== except && binding.instanceId === instanceId && binding.name === name) {
        throw new SmError('Conflict', `binding with name ${name} already exists in instance ${instanceId}`);
      }
    }
  }

  create(spec: NewBinding, execution: Execution): { binding: Binding; operation: Operation } {
    this.#advance();
    this.assertNameFree(spec.name, spec.instanceId);
    const now = this.#clock.now();
    const operation = execution.async
      ? startOperation('create', spec.id, now, execution.settings, execution.outcome)
      : finishedOperation('create', spec.id, now);
    const binding: Binding = {
      ...spec,
      sequence: ++this.#sequence,
      createdAt: now,
      updatedAt: now,
      phase: execution.async ? 'creating' : 'ready',
      lastOperation: operation,
    };
    this.#bindings.set(binding.id, binding);
    this.#track(operation);
    if (!execution.async) this.#hooks.created(binding);
    return { binding, operation };
  }

  /** A binding that exists (404 while its async create runs). */
  get(id: string): Binding | undefined {
    this.#advance();
    const binding = this.#bindings.get(id);
    return binding?.phase === 'creating' ? undefined : binding;
  }

  /** Existing bindings in creation order. */
  list(): Binding[] {
    this.#advance();
    return [...this.#bindings.values()].filter((binding) => binding.phase !== 'creating');
  }

  /** Existing bindings per instance id. */
  countByInstance(): Record<string, number> {
    this.#advance();
    const counts: Record<string, number> = {};
    for (const binding of this.#bindings.values()) {
      if (binding.phase !== 'creating') counts[binding.instanceId] = (counts[binding.instanceId] ?? 0) + 1;
    }
    return counts;
  }

  /** One poll of an operation URL; counts towards its completion. */
  pollOperation(bindingId: string, operationId: string): Operation | undefined {
    const operation = this.#operations.get(operationId);
    if (operation === undefined || operation.bindingId !== bindingId) return undefined;
    if (!isFinished(operation.state)) {
      operation.polls += 1;
      this.#step(operation);
    }
    this.#advance();
    return operation;
  }

  update(id: string, name: string | undefined, changes: readonly LabelChange[]): Binding {
    const binding = this.#mutable(id);
    if (name !== undefined && name !== binding.name) {
      this.assertNameFree(name, binding.instanceId, binding.id);
      binding.name = name;
    }
    for (const change of changes) applyLabelChange(binding.labels, change);
    const now = this.#clock.now();
    binding.updatedAt = now;
    binding.lastOperation = finishedOperation('update', binding.id, now);
    this.#track(binding.lastOperation);
    return binding;
  }

  /** `decide` runs only once the delete is known to proceed (it may consume a fault). */
  delete(id: string, decide: () => Execution): Operation {
    const binding = this.#mutable(id);
    const execution = decide();
    const now = this.#clock.now();
    if (!execution.async) {
      binding.lastOperation = finishedOperation('delete', binding.id, now);
      this.#track(binding.lastOperation);
      this.#remove(binding);
      return binding.lastOperation;
    }
    const operation = startOperation('delete', binding.id, now, execution.settings, execution.outcome);
    binding.phase = 'deleting';
    binding.lastOperation = operation;
    binding.updatedAt = now;
    this.#track(operation);
    return operation;
  }

  /** Removes a binding at once, whatever it is doing (someone deleted it out of band). */
  removeNow(id: string): boolean {
    const binding = this.#bindings.get(id);
    if (binding === undefined) return false;
    this.#open.delete(binding.lastOperation);
    if (binding.phase === 'creating') this.#bindings.delete(id);
    else this.#remove(binding);
    return true;
  }

  #mutable(id: string): Binding {
    const binding = this.get(id);
    if (binding === undefined) {
      const creating = this.#bindings.get(id);
      if (creating !== undefined) {
        throw new SmError(
          'ConcurrentOperationInProgress',
          'Another concurrent operation in progress for this resource',
        );
      }
      throw new SmError('NotFound', `binding ${id} not found`);
    }
    if (binding.phase !== 'ready') {
      throw new SmError(
        'ConcurrentOperationInProgress',
        'Another concurrent operation in progress for this resource',
      );
    }
    return binding;
  }

  #track(operation: Operation): void {
    this.#operations.set(operation.id, operation);
    if (!isFinished(operation.state)) this.#open.add(operation);
  }

  #advance(): void {
    for (const operation of [...this.#open]) this.#step(operation);
  }

  #step(operation: Operation): void {
    const now = this.#clock.now();
    const state = progress(operation, now);
    if (state !== operation.state) {
      operation.state = state;
      operation.updatedAt = now;
    }
    if (!isFinished(state)) return;
    this.#open.delete(operation);
    const binding = this.#bindings.get(operation.bindingId);
    if (binding === undefined) return;
    binding.updatedAt = now;
    if (operation.type === 'create') {
      if (state === 'succeeded') {
        binding.phase = 'ready';
        this.#hooks.created(binding);
      } else {
        this.#bindings.delete(binding.id);
      }
    } else if (operation.type === 'delete') {
      if (state === 'succeeded') this.#remove(binding);
      else binding.phase = 'ready';
    }
  }

  #remove(binding: Binding): void {
    this.#bindings.delete(binding.id);
    this.#hooks.deleted(binding);
  }
}

function applyLabelChange(labels: Labels, change: LabelChange): void {
  const current = labels[change.key] ?? [];
  if (change.op === 'add') {
    labels[change.key] = [...current, ...change.values.filter((value) => !current.includes(value))];
    return;
  }
  const values = change.values;
  const remaining = values === undefined ? [] : current.filter((value) => !values.includes(value));
  if (remaining.length === 0) delete labels[change.key];
  else labels[change.key] = remaining;
}
