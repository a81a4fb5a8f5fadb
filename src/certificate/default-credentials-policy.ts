// Who may use the operator-wide default Service Manager credentials (--default-sm-credentials),
// and for which service instances: the administrator's policy file
// (--default-sm-credentials-policy), JSON, e.g.
//   {"namespaces": {"team-a": {"instanceNames": ["xsuaa-a"], "instanceIDs": ["9a1c..."]}}}
// Without a policy nobody may. Pure: parsed once at start, matched per BTPCertificate.
import type { BTPCertificate } from '../api/types.ts';
import { isRecord } from '../runtime/is-record.ts';

export type DefaultCredentialsPolicy = {
  /** By namespace: the instances it may bind, by the name or the ID its BTPCertificates give. */
  readonly namespaces: ReadonlyMap<
    string,
    { readonly instanceNames: ReadonlySet<string>; readonly instanceIDs: ReadonlySet<string> }
  >;
};

/** At most this many namespaces and instances per namespace: a policy is written by hand. */
export const MAX_POLICY_NAMESPACES = 1000;
export const MAX_POLICY_INSTANCES = 100;

const NAMESPACE = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/** The policy in a file's text; a message naming the first thing wrong otherwise. */
export function parseDefaultCredentialsPolicy(
  text: string,
):
  | { readonly ok: true; readonly policy: DefaultCredentialsPolicy }
  | { readonly ok: false; readonly error: string } {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { ok: false, error: 'is not JSON' };
  }
  const fail = (error: string) => ({ ok: false, error }) as const;
  if (!isRecord(json)) return fail('must be a JSON object with the key "namespaces"');
  const unknown = Object.keys(json).filter((k) => k !== 'namespaces');
  if (unknown.length > 0)
    return fail(`has an unknown key ${JSON.stringify(unknown[0])}; only "namespaces" is allowed`);
  if (!isRecord(json.namespaces))
    return fail('"namespaces" must be an object from namespace names to instances');
  const entries = Object.entries(json.namespaces);
  if (entries.length > MAX_POLICY_NAMESPACES)
    return fail(`names more than ${MAX_POLICY_NAMESPACES} namespaces`);
  const namespaces = new Map<string, { instanceNames: Set<string>; instanceIDs: Set<string> }>();
  for (const [namespace, entry] of entries) {
    const at = `namespaces.${namespace}`;
    if (!NAMESPACE.test(namespace)) return fail(`${JSON.stringify(namespace)} is not a namespace name`);
    if (!isRecord(entry)) return fail(`${at} must be an object with instanceNames and/or instanceIDs`);
    const extra = Object.keys(entry).filter((k) => k !== 'instanceNames' && k !== 'instanceIDs');
    if (extra.length > 0) {
      return fail(
        `${at} has an unknown key ${JSON.stringify(extra[0])}; allowed: instanceNames, instanceIDs`,
      );
    }
    const lists: Record<'instanceNames' | 'instanceIDs', Set<string>> = {
      instanceNames: new Set(),
      instanceIDs: new Set(),
    };
    for (const key of ['instanceNames', 'instanceIDs'] as const) {
      const list = entry[key];
      if (list === undefined) continue;
      if (!Array.isArray(list)) return fail(`${at}.${key} must be a list of strings`);
      if (list.length > MAX_POLICY_INSTANCES)
        return fail(`${at}.${key} has more than ${MAX_POLICY_INSTANCES} entries`);
      for (const [i, item] of list.entries()) {
        if (typeof item !== 'string' || item === '' || item.length > 253) {
          return fail(`${at}.${key}[${i}] must be a non-empty string of at most 253 characters`);
        }
        lists[key].add(item);
      }
    }
    if (lists.instanceNames.size + lists.instanceIDs.size === 0) {
      return fail(`${at} allows no instance: list instanceNames or instanceIDs (or leave the namespace out)`);
    }
    namespaces.set(namespace, lists);
  }
  return { ok: true, policy: { namespaces } };
}

/**
 * Whether a BTPCertificate may use the default credentials: its namespace is in the policy, and the
 * instance it names (by name or by ID) is listed for it, the same way. undefined: allowed;
 * otherwise why not.
 */
export function defaultCredentialsRefusal(
  policy: DefaultCredentialsPolicy | undefined,
  cert: BTPCertificate,
): string | undefined {
  const namespace = cert.metadata.namespace;
  const sm = cert.spec.source.serviceManager;
  // The ID is what is bound when both are given (findOrCreate): it alone is matched then.
  const id = sm?.serviceInstanceID;
  const name = id === undefined ? sm?.serviceInstanceName : undefined;
  const instance = id === undefined ? `service instance ${name ?? '(none)'}` : `service instance ID ${id}`;
  const refused = `namespace ${namespace} may not bind ${instance} with the operator's default Service Manager credentials`;
  if (policy === undefined) return `${refused}: the operator has no --default-sm-credentials-policy`;
  const allowed = policy.namespaces.get(namespace);
  if (allowed === undefined) return `${refused}: the namespace is not in the operator's policy`;
  if (
    id !== undefined ? allowed.instanceIDs.has(id) : name !== undefined && allowed.instanceNames.has(name)
  ) {
    return undefined;
  }
  return `${refused}: the operator's policy does not list it for this namespace`;
}
