// What spec.secretTemplate may not set, in one place: the CRD's rules (schema.ts) and the runtime
// check for objects stored before them (policies/readiness.ts) both read it.

/** Non-secret binding fields consumers need, each under its own key of the Secret. */
export const BINDING_FIELD_KEYS = [
  'clientid',
  'certurl',
  'url',
  'xsappname',
  'uaadomain',
  'identityzone',
  'credential-type',
  // A destination's (source.destination.destinationName), under the Destination service's names.
  'URL',
  'tokenServiceURL',
  'clientId',
  'Name',
] as const;

/** Every data key the operator writes itself (certificate/secret.ts; a unit test keeps them equal). */
export const OPERATOR_DATA_KEYS = [
  'tls.crt',
  'tls.key',
  'ca.crt',
  ...BINDING_FIELD_KEYS,
  'type',
  'provider',
  'tls-combined.pem',
  'keystore.p12',
] as const;

/**
 * Label and annotation prefixes a template may not use: the operator's own, and those of the
 * tools that copy a Secret (its key included) into other namespaces when it carries them:
 * - emberstack reflector: reflector.v1.k8s.emberstack.com/reflection-allowed, -allowed-namespaces,
 *   reflection-auto-enabled, reflection-auto-namespaces, reflects
 * - mittwald kubernetes-replicator: replicator.v1.mittwald.de/replicate-to, replicate-to-matching,
 *   replicate-from, replication-allowed, replication-allowed-namespaces
 * - appscode kubed / config-syncer: kubed.appscode.com/sync, sync-contexts
 */
export const RESERVED_METADATA_PREFIXES = [
  'btpcerts.io/',
  'reflector.v1.k8s.emberstack.com/',
  'replicator.v1.mittwald.de/',
  'kubed.appscode.com/',
] as const;

type Template = {
  readonly labels?: Readonly<Record<string, string>> | undefined;
  readonly annotations?: Readonly<Record<string, string>> | undefined;
  readonly data?: Readonly<Record<string, string>> | undefined;
};

const operatorKeys: ReadonlySet<string> = new Set(OPERATOR_DATA_KEYS);
const reservedMetadata = (key: string) => RESERVED_METADATA_PREFIXES.some((p) => key.startsWith(p));

/** The first key the template may not set, as `secretTemplate.<part>: <key>`; undefined if none. */
export function reservedTemplateKey(template: Template | undefined): string | undefined {
  const data = Object.keys(template?.data ?? {}).find((k) => operatorKeys.has(k));
  if (data !== undefined) return `secretTemplate.data: ${data}`;
  for (const part of ['labels', 'annotations'] as const) {
    const key = Object.keys(template?.[part] ?? {}).find(reservedMetadata);
    if (key !== undefined) return `secretTemplate.${part}: ${key}`;
  }
  return undefined;
}

const celList = (items: readonly string[]) => `[${items.map((i) => `'${i}'`).join(', ')}]`;

/** The CRD rule for secretTemplate.labels and .annotations. */
export const reservedMetadataRule = {
  rule: `self.all(k, !${celList(RESERVED_METADATA_PREFIXES)}.exists(p, k.startsWith(p)))`,
  messageExpression:
    `'must not set ' + self.filter(k, ${celList(RESERVED_METADATA_PREFIXES)}.exists(p, k.startsWith(p)))[0] + ` +
    `': the prefixes ${RESERVED_METADATA_PREFIXES.join(', ')} are the operator\\'s or copy the Secret to other namespaces'`,
  message: `must not use the prefixes ${RESERVED_METADATA_PREFIXES.join(', ')}`,
} as const;

/** The CRD rule's list of data keys a template may not set. */
export const operatorDataKeysCel = celList(OPERATOR_DATA_KEYS);
