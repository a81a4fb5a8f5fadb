// The closed catalogue of routes the simulator serves. Counters and faults are keyed by
// these names; a request that matches nothing is counted under `<server>.notFound`.

export const XSUAA_ROUTES = [
  'xsuaa.token',
  'xsuaa.openidConfiguration',
  'xsuaa.tokenKeys',
  'xsuaa.notFound',
] as const;
export const XSUAA_CERT_ROUTES = ['xsuaa.certToken', 'xsuaa.certNotFound'] as const;
export const SM_ROUTES = [
  'sm.createBinding',
  'sm.getBinding',
  'sm.listBindings',
  'sm.patchBinding',
  'sm.deleteBinding',
  'sm.getOperation',
  'sm.listInstances',
  'sm.getInstance',
  'sm.listOfferings',
  'sm.getOffering',
  'sm.listPlans',
  'sm.getPlan',
  'sm.notFound',
] as const;

/** The other tenant's XSUAA (a destination's tokenServiceURL), on its own two hosts. */
export const OTHER_XSUAA_ROUTES = [
  'otherXsuaa.token',
  'otherXsuaa.openidConfiguration',
  'otherXsuaa.tokenKeys',
  'otherXsuaa.notFound',
] as const;
export const OTHER_XSUAA_CERT_ROUTES = ['otherXsuaa.certToken', 'otherXsuaa.certNotFound'] as const;
export const DESTINATION_ROUTES = [
  'destination.findDestination',
  'destination.listCertificates',
  'destination.getCertificate',
  'destination.createCertificate',
  'destination.deleteCertificate',
  'destination.notFound',
] as const;

export const ROUTES = [
  ...XSUAA_ROUTES,
  ...XSUAA_CERT_ROUTES,
  ...SM_ROUTES,
  ...OTHER_XSUAA_ROUTES,
  ...OTHER_XSUAA_CERT_ROUTES,
  ...DESTINATION_ROUTES,
] as const;
export type Route = (typeof ROUTES)[number];

/** Routes whose operations may run asynchronously (202 + Location). */
export const ASYNC_ROUTES = ['sm.createBinding', 'sm.deleteBinding'] as const;
export type AsyncRoute = (typeof ASYNC_ROUTES)[number];

export const SERVERS = ['xsuaa', 'xsuaaCert', 'sm', 'otherXsuaa', 'otherXsuaaCert', 'destination'] as const;
export type ServerName = (typeof SERVERS)[number];

export interface RouteMatch<R extends Route> {
  readonly route: R;
  readonly params: Readonly<Record<string, string>>;
}

export interface RouteRule<R extends Route> {
  readonly method: string;
  readonly pattern: RegExp;
  readonly route: R;
}

/** First rule whose method and pattern match; named groups become params. */
export function matchRoute<R extends Route>(
  rules: readonly RouteRule<R>[],
  method: string,
  pathname: string,
): RouteMatch<R> | undefined {
  for (const rule of rules) {
    if (rule.method !== method) continue;
    const match = rule.pattern.exec(pathname);
    if (match) return { route: rule.route, params: { ...match.groups } };
  }
  return undefined;
}
