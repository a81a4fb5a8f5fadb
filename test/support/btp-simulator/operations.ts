// Service Manager operations (btp.md section 4): states `pending` -> `in progress` ->
// `succeeded` | `failed`. An async operation finishes once it has been polled
// `requiredPolls` times and `readyAt` has passed; a stuck one never finishes.
import { randomUUID } from 'node:crypto';

export type OperationType = 'create' | 'update' | 'delete';
export type OperationState = 'pending' | 'in progress' | 'succeeded' | 'failed';
export type OperationOutcome = 'succeed' | 'fail' | 'stuck';

export interface AsyncSettings {
  /** Polls of the operation URL before it finishes (the finishing poll included). */
  readonly polls: number;
  /** Minimum time from start to finish. */
  readonly durationMs: number;
}

export interface Operation {
  readonly id: string;
  readonly type: OperationType;
  readonly bindingId: string;
  readonly createdAt: number;
  readonly requiredPolls: number;
  readonly readyAt: number;
  readonly outcome: OperationOutcome;
  updatedAt: number;
  state: OperationState;
  polls: number;
}

export function finishedOperation(type: OperationType, bindingId: string, now: number): Operation {
  return {
    id: randomUUID(),
    type,
    bindingId,
    createdAt: now,
    requiredPolls: 0,
    readyAt: now,
    outcome: 'succeed',
    updatedAt: now,
    state: 'succeeded',
    polls: 0,
  };
}

export function startOperation(
  type: OperationType,
  bindingId: string,
  now: number,
  settings: AsyncSettings,
  outcome: OperationOutcome,
): Operation {
  return {
    id: randomUUID(),
    type,
    bindingId,
    createdAt: now,
    requiredPolls: settings.polls,
    readyAt: now + settings.durationMs,
    outcome,
    updatedAt: now,
    state: 'pending',
    polls: 0,
  };
}

export function isFinished(state: OperationState): boolean {
  return state === 'succeeded' || state === 'failed';
}

/** The state an unfinished operation is in now, given how often it has been polled. */
export function progress(operation: Operation, now: number): OperationState {
  if (isFinished(operation.state)) return operation.state;
  const done =
    operation.outcome !== 'stuck' && operation.polls >= operation.requiredPolls && now >= operation.readyAt;
  if (done) return operation.outcome === 'fail' ? 'failed' : 'succeeded';
  return operation.polls <= 1 ? 'pending' : 'in progress';
}
