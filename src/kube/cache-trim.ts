// What an informer keeps of an object it caches: not its managedFields (bookkeeping of the API
// server, often larger than the object), and only the annotations of the domains the controller
// reads. Any namespace user may put up to 256 KB of annotations on each object; kept whole, they
// would sit in the operator's memory for every object of the kind in the cluster.
import type { KubernetesObject } from '@kubernetes/client-node';

/** `domain` itself, or a subdomain of it: `btpcerts.io` covers `test.btpcerts.io/poke`. */
function inDomains(key: string, domains: readonly string[]): boolean {
  const slash = key.indexOf('/');
  if (slash < 0) return false;
  const prefix = key.slice(0, slash);
  return domains.some((d) => prefix === d || prefix.endsWith(`.${d}`));
}

/** A shallow copy of `obj` for a cache: no managedFields, annotations of `domains` only. */
export function trimmedForCache<T extends KubernetesObject>(obj: T, domains: readonly string[]): T {
  const { managedFields: _m, annotations, ...metadata } = obj.metadata ?? {};
  const kept =
    annotations === undefined
      ? undefined
      : Object.fromEntries(Object.entries(annotations).filter(([k]) => inDomains(k, domains)));
  return {
    ...obj,
    metadata: {
      ...metadata,
      ...(kept !== undefined && Object.keys(kept).length > 0 ? { annotations: kept } : {}),
    },
  };
}
