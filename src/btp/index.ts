// The BTP clients: XSUAA client-credentials tokens, the Service Manager and the Destination service, on undici
// (http.ts is the only importer), with a closed error catalogue and one retry policy.
export { apiErrorFields, errorForStatus, safeApiText } from './api-error.ts';
export {
  type ApiCredential,
  BearerApi,
  type DeadlineOptions,
  httpsBaseUrl,
  tokenCredentialOf,
} from './bearer-api.ts';
export {
  DestinationClient,
  type DestinationClientOptions,
  type DestinationCredential,
  parseFoundDestination,
  parseStoredCertificate,
} from './destination.ts';
export {
  BTP_ERROR_CODES,
  BTP_ERRORS,
  BtpError,
  type BtpErrorCode,
  type BtpErrorOptions,
  isBtpError,
  isBtpErrorCode,
} from './errors.ts';
export {
  BtpHttp,
  type BtpHttpOptions,
  type BtpRequest,
  type BtpResponse,
  type ClientIdentity,
  DEFAULT_HTTP_OPTIONS,
  type HttpMethod,
} from './http.ts';
export {
  MAX_ERROR_TEXT_LENGTH,
  MAX_LIST_ITEMS,
  MAX_LIST_PAGES,
  RESPONSE_BODY_LIMITS,
  type ResponseKind,
} from './limits.ts';
export { buildQuery, equalsQuery, type QueryCriterion, quoteQueryValue } from './query.ts';
export {
  DEFAULT_RETRY_POLICY,
  isRetriable,
  RETRIED_CODES,
  type RetryPolicy,
  resolveRetryPolicy,
  retryDecision,
  withRetry,
} from './retry.ts';
export { parseRetryAfter, RETRY_AFTER_CAP_MS } from './retry-after.ts';
export { Secret } from './secret.ts';
export {
  type CreateBindingRequest,
  DEFAULT_OPERATION_POLLING,
  DEFAULT_PAGE_SIZE,
  type LabelChange,
  type ListQuery,
  type OperationPolling,
  ServiceManagerClient,
  type ServiceManagerClientOptions,
  type SmCredential,
} from './service-manager.ts';
export type { Labels, OperationState, SmBinding, SmInstance, SmOperation } from './sm-resources.ts';
export {
  credentialKey,
  DEFAULT_TOKEN_REFRESH,
  TokenCache,
  type TokenCacheOptions,
  type TokenRefreshPolicy,
  tokenRefreshAtMs,
} from './token-cache.ts';
export {
  type AccessToken,
  type FetchTokenOptions,
  type SecretTokenCredential,
  TokenClient,
  type TokenClientOptions,
  type TokenCredential,
  type X509TokenCredential,
} from './token-client.ts';
