// Which BTPCertificates an operator has confirmed, each counted once: the keys whose reconcile
// ended with a requeue (a Ready certificate as it should be, due again at its renewal or resync
// time), from the 'reconciled' lines of its debug log (src/runtime/queue.ts), read as it grows.
// The operator's btpcert_reconcile_total cannot tell this: a key reconciled twice counts twice.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';

export class ConfirmationLog {
  readonly #file: string;
  readonly #keyPrefix: string;
  readonly #confirmed = new Set<string>();
  #offset = 0;
  #partial = '';

  /** `keyPrefix`: e.g. `namespace/`, the keys that count. */
  constructor(file: string, keyPrefix: string) {
    this.#file = file;
    this.#keyPrefix = keyPrefix;
  }

  /** Reads what the log gained since the last call; the number of distinct keys confirmed so far. */
  poll(): number {
    const fd = openSync(this.#file, 'r');
    try {
      const size = fstatSync(fd).size;
      if (size <= this.#offset) return this.#confirmed.size;
      const bytes = Buffer.alloc(size - this.#offset);
      readSync(fd, bytes, 0, bytes.length, this.#offset);
      this.#offset = size;
      const lines = (this.#partial + bytes.toString('utf8')).split('\n');
      this.#partial = lines.pop() ?? '';
      for (const line of lines) this.#read(line);
    } finally {
      closeSync(fd);
    }
    return this.#confirmed.size;
  }

  #read(line: string): void {
    if (!line.includes('"reconciled"')) return;
    try {
      const entry = JSON.parse(line) as { key?: unknown; outcome?: unknown; msg?: unknown };
      if (
        entry.msg === 'reconciled' &&
        entry.outcome === 'requeue' &&
        typeof entry.key === 'string' &&
        entry.key.startsWith(this.#keyPrefix)
      )
        this.#confirmed.add(entry.key);
    } catch {
      // Not a log line of the operator's (e.g. node's own output).
    }
  }
}
