// Kubernetes API errors in our catalogue: a status code and the API's own reason, never a body
// that could echo object contents.
import { ApiException } from '@kubernetes/client-node';
import { OperatorError } from '../runtime/errors.ts';

export class KubeApiError extends OperatorError {
  readonly status: number;
  constructor(status: number, what: string, apiReason: string) {
    super(`kube.${status}`, `${what}: HTTP ${status}${apiReason ? ` (${apiReason})` : ''}`, {
      retryable: status !== 422 && status !== 400,
    });
    this.status = status;
  }
}

export const statusOf = (e: unknown): number | undefined => (e instanceof ApiException ? e.code : undefined);

/** Wraps an unknown error of a Kubernetes call, keeping only its status and the API's reason. */
export function kubeError(e: unknown, what: string): Error {
  if (e instanceof ApiException) {
    const body: unknown = typeof e.body === 'string' ? safeJson(e.body) : e.body;
    const reason =
      typeof body === 'object' && body !== null && 'reason' in body && typeof body.reason === 'string'
        ? body.reason
        : '';
    return new KubeApiError(e.code, what, reason);
  }
  if (e instanceof Error)
    return new OperatorError('kube.unreachable', `${what}: ${e.message}`, { retryable: true, cause: e });
  return new OperatorError('kube.unknown', `${what}: unknown error`, { retryable: true });
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
