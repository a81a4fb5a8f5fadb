// The resourceVersions our own writes produced, so that the watch event of such a write does not
// wake the certificate that made it (issue 11: at 1,000 certificates every issuance woke its
// certificate twice more, through its Secret's create and its status patch, and those runs found
// nothing to do but cost two GETs, a parse and a decision each, and ran on into idle time).
//
// Only a version we wrote is skipped: any other change of the object comes with a version of its
// own (a version is never reused, not even by an object of the same name created later), and a
// deletion is never skipped. An event that arrives before the write's response is recorded wakes
// the certificate as before.

/** Versions kept per object: enough for the writes of one run; older ones are dropped. */
const KEPT_PER_OBJECT = 4;

export class OwnWrites {
  readonly #versions = new Map<string, string[]>();

  /** `object`: e.g. `secret:ns/name`. An empty version (a response without one) is not kept. */
  record(object: string, resourceVersion: string | undefined): void {
    if (!resourceVersion) return;
    const versions = this.#versions.get(object) ?? [];
    versions.push(resourceVersion);
    if (versions.length > KEPT_PER_OBJECT) versions.shift();
    this.#versions.set(object, versions);
  }

  /** True when this version of `object` is one we wrote; it (and any recorded before it) is dropped. */
  consume(object: string, resourceVersion: string | undefined): boolean {
    const versions = this.#versions.get(object);
    const at = resourceVersion === undefined ? -1 : (versions?.indexOf(resourceVersion) ?? -1);
    if (versions === undefined || at < 0) return false;
    versions.splice(0, at + 1);
    if (versions.length === 0) this.#versions.delete(object);
    return true;
  }

  forget(object: string): void {
    this.#versions.delete(object);
  }

  /** Objects with versions kept (tests: nothing outlives its object). */
  get size(): number {
    return this.#versions.size;
  }
}
