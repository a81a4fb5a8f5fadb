// The Service Manager's error catalogue: stable codes, their HTTP status, and the body
// shape `{error, description}` (btp.md section 4).

export const SM_ERRORS = {
  BadRequest: 400,
  Unauthorized: 401,
  Forbidden: 403,
  NotFound: 404,
  Conflict: 409,
  ConcurrentOperationInProgress: 422,
  TooManyRequests: 429,
  InternalServerError: 500,
  BadGateway: 502,
  ServiceUnavailable: 503,
  GatewayTimeout: 504,
} as const;
export type SmErrorCode = keyof typeof SM_ERRORS;

export interface SmErrorBody {
  readonly error: string;
  readonly description: string;
}

export class SmError extends Error {
  override readonly name = 'SmError';
  readonly code: SmErrorCode;

  constructor(code: SmErrorCode, description: string) {
    super(description);
    this.code = code;
  }

  get status(): number {
    return SM_ERRORS[this.code];
  }

  body(): SmErrorBody {
    return { error: this.code, description: this.message };
  }
}

/** The body for a status that did not come from the catalogue (injected faults, 404 routes). */
export function smErrorBody(status: number, description: string): SmErrorBody {
  const code = (Object.keys(SM_ERRORS) as SmErrorCode[]).find((candidate) => SM_ERRORS[candidate] === status);
  return { error: code ?? 'Error', description };
}
