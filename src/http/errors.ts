/** The JSON error contract: `{"error": {"code", "message", "details"}}`. */

/** Details that locate a client mistake: which row and which field. */
export type ErrorDetails = Record<string, unknown>;

/** The statuses an {@link ApiError} may carry. */
export type ApiErrorStatus = 400 | 401 | 404 | 405 | 413 | 415 | 422 | 500 | 503;

/** An error the client caused or should see, with its HTTP status. */
export class ApiError extends Error {
  override name = 'ApiError';
  readonly status: ApiErrorStatus;
  readonly code: string;
  readonly details: ErrorDetails;
  constructor(status: ApiErrorStatus, code: string, message: string, details: ErrorDetails = {}) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

/** The response body for an error. */
export function errorBody(code: string, message: string, details: ErrorDetails = {}) {
  return { error: { code, message, details } };
}
