// Work queue keys: `namespace/name` for namespaced objects, `name` for cluster-scoped ones
// (the same format as client-go's MetaNamespaceKeyFunc).

export interface ObjectRef {
  readonly namespace?: string | undefined;
  readonly name: string;
}

export function objectKey(ref: ObjectRef): string {
  return ref.namespace ? `${ref.namespace}/${ref.name}` : ref.name;
}

/** Inverse of objectKey; namespace is '' for a cluster-scoped key. */
export function splitKey(key: string): { readonly namespace: string; readonly name: string } {
  const slash = key.indexOf('/');
  return slash < 0
    ? { namespace: '', name: key }
    : { namespace: key.slice(0, slash), name: key.slice(slash + 1) };
}
