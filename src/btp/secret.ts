// An opaque secret (access token, client secret): the raw string lives in a private field and
// only `reveal()` gives it out. Every way an object usually ends up in text (JSON.stringify,
// pino, String(), template literals, util.inspect, console.log) shows `[redacted]`.

const REDACTED = '[redacted]';

export class Secret {
  readonly #value: string;

  constructor(value: string) {
    this.#value = value;
  }

  /** The raw value, for the one place that must send it (an Authorization header, a form body). */
  reveal(): string {
    return this.#value;
  }

  /** Whether both hold the same raw value (not constant-time: for cache bookkeeping only). */
  equals(other: Secret): boolean {
    return other.#value === this.#value;
  }

  toJSON(): string {
    return REDACTED;
  }

  toString(): string {
    return REDACTED;
  }

  [Symbol.toPrimitive](): string {
    return REDACTED;
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `Secret(${REDACTED})`;
  }
}
