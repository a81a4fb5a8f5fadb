// How much of an answer the BTP clients read, stated once. A token endpoint can be chosen by the
// tenant (spec.token.url with its own caBundleRef), and so can a Service Manager (sm_url of the
// access Secret): an answer is read only up to the cap of its kind, and the request is aborted at
// the first byte beyond it, so that no endpoint can make the operator hold more than this in memory.

const KiB = 1024;
const MiB = 1024 * KiB;

/** The largest body read per kind of answer; the error answers of an endpoint share its cap. */
export const RESPONSE_BODY_LIMITS = Object.freeze({
  /** An OAuth token answer (XSUAA returns a few KB). */
  token: 256 * KiB,
  /** One Service Manager resource: a binding with its credentials, an instance, an operation. */
  resource: 256 * KiB,
  /** One page of a Service Manager list. */
  page: 1 * MiB,
  /**
   * A Destination service answer: a stored certificate file (base64; keystores are a few KB) or a
   * find-destination answer with the files its destination names.
   */
  destination: 512 * KiB,
});

export type ResponseKind = keyof typeof RESPONSE_BODY_LIMITS;

/** Pages and items of one Service Manager list; the lists the operator reads hold a handful. */
export const MAX_LIST_PAGES = 20;
export const MAX_LIST_ITEMS = 1_000;

/** An API's error text is cut to this many characters before it is scrubbed for credentials. */
export const MAX_ERROR_TEXT_LENGTH = 1024;
