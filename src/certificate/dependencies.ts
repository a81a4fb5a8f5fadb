// Which objects each BTPCertificate read on its last reconcile, so that a change of a source
// Secret or ServiceBinding (which this operator does not cache) wakes exactly its dependents.

export type DependencyKind = 'secret' | 'servicebinding';

export class DependencyIndex {
  readonly #byObject = new Map<string, Set<string>>();
  readonly #byCertificate = new Map<string, Set<string>>();

  /** Replaces what `certificateKey` depends on. Objects are `namespace/name`. */
  record(certificateKey: string, deps: readonly { kind: DependencyKind; object: string }[]): void {
    this.forget(certificateKey);
    const ids = new Set(deps.map((d) => `${d.kind}:${d.object}`));
    this.#byCertificate.set(certificateKey, ids);
    for (const id of ids) {
      let set = this.#byObject.get(id);
      if (set === undefined) {
        set = new Set();
        this.#byObject.set(id, set);
      }
      set.add(certificateKey);
    }
  }

  forget(certificateKey: string): void {
    const ids = this.#byCertificate.get(certificateKey);
    if (ids === undefined) return;
    this.#byCertificate.delete(certificateKey);
    for (const id of ids) {
      const set = this.#byObject.get(id);
      set?.delete(certificateKey);
      if (set?.size === 0) this.#byObject.delete(id);
    }
  }

  dependents(kind: DependencyKind, object: string): readonly string[] {
    return [...(this.#byObject.get(`${kind}:${object}`) ?? [])];
  }

  /** Every certificate that depends on any object of this kind (after a missed-events gap). */
  allDependents(kind: DependencyKind): readonly string[] {
    const out = new Set<string>();
    for (const [id, set] of this.#byObject) if (id.startsWith(`${kind}:`)) for (const k of set) out.add(k);
    return [...out];
  }
}
