// Pre-generated RSA key pairs per key length, refilled in the background, so that issuing
// a binding does not wait for key generation. Keys come from node:crypto (OpenSSL, on the
// libuv thread pool); a length is only pooled once somebody has asked for it, except the
// lengths listed in `prefill`.
import { generateKeyPair, type KeyObject } from 'node:crypto';

export const KEY_LENGTHS = [2048, 4096, 8192] as const;
export type KeyLength = (typeof KEY_LENGTHS)[number];

export interface KeyPair {
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
}

export interface KeyPoolOptions {
  /** Keys kept ready per length once that length is in use. */
  readonly targets: Readonly<Record<KeyLength, number>>;
  /** Lengths pooled from the start. */
  readonly prefill: readonly KeyLength[];
  /** Background generations in flight at once. */
  readonly concurrency: number;
  readonly onError: (error: unknown) => void;
}

export interface KeyPoolStats {
  readonly ready: Readonly<Record<KeyLength, number>>;
  readonly generated: number;
  readonly takenFromPool: number;
  readonly generatedOnDemand: number;
}

export function generateRsaKeyPair(bits: number): Promise<KeyPair> {
  return new Promise((resolve, reject) => {
    generateKeyPair(
      'rsa',
      { modulusLength: bits, publicExponent: 0x10001 },
      (error, publicKey, privateKey) => {
        if (error) reject(error);
        else resolve({ publicKey, privateKey });
      },
    );
  });
}

export function isKeyLength(value: unknown): value is KeyLength {
  return KEY_LENGTHS.some((length) => length === value);
}

export class KeyPool {
  readonly #options: KeyPoolOptions;
  readonly #ready = new Map<KeyLength, KeyPair[]>();
  readonly #pending = new Map<KeyLength, number>();
  #inFlight = 0;
  #stopped = false;
  #generated = 0;
  #takenFromPool = 0;
  #generatedOnDemand = 0;
  #fullWaiters: Array<() => void> = [];

  constructor(options: KeyPoolOptions) {
    this.#options = options;
    for (const length of options.prefill) this.#ready.set(length, []);
    this.#refill();
  }

  /** A fresh key pair of `bits`; from the pool when one is ready, else generated now. */
  async take(bits: KeyLength): Promise<KeyPair> {
    let ready = this.#ready.get(bits);
    if (ready === undefined) {
      ready = [];
      this.#ready.set(bits, ready);
    }
    const pooled = ready.pop();
    this.#refill();
    if (pooled !== undefined) {
      this.#takenFromPool += 1;
      return pooled;
    }
    this.#generatedOnDemand += 1;
    const pair = await generateRsaKeyPair(bits);
    this.#generated += 1;
    return pair;
  }

  /** Resolves once every pooled length holds its target (at once when stopped). */
  whenFull(): Promise<void> {
    if (this.#isFull()) return Promise.resolve();
    return new Promise((resolve) => {
      this.#fullWaiters.push(resolve);
    });
  }

  stats(): KeyPoolStats {
    const ready: Record<KeyLength, number> = { 2048: 0, 4096: 0, 8192: 0 };
    for (const [length, pairs] of this.#ready) ready[length] = pairs.length;
    return {
      ready,
      generated: this.#generated,
      takenFromPool: this.#takenFromPool,
      generatedOnDemand: this.#generatedOnDemand,
    };
  }

  /** Stops background refills; generations already running finish and are dropped. */
  stop(): void {
    this.#stopped = true;
    this.#ready.clear();
    this.#notifyIfFull();
  }

  #isFull(): boolean {
    if (this.#stopped) return true;
    for (const [length, pairs] of this.#ready) {
      if (pairs.length < this.#options.targets[length]) return false;
    }
    return true;
  }

  #notifyIfFull(): void {
    if (!this.#isFull()) return;
    const waiters = this.#fullWaiters;
    this.#fullWaiters = [];
    for (const resolve of waiters) resolve();
  }

  #nextLengthToFill(): KeyLength | undefined {
    for (const [length, pairs] of this.#ready) {
      if (pairs.length + (this.#pending.get(length) ?? 0) < this.#options.targets[length]) return length;
    }
    return undefined;
  }

  #refill(): void {
    while (!this.#stopped && this.#inFlight < this.#options.concurrency) {
      const length = this.#nextLengthToFill();
      if (length === undefined) break;
      this.#inFlight += 1;
      this.#pending.set(length, (this.#pending.get(length) ?? 0) + 1);
      generateRsaKeyPair(length).then(
        (pair) => this.#settle(length, pair),
        (error: unknown) => {
          // No immediate retry: a failing generation would otherwise spin. The next take() refills.
          this.#settle(length, undefined);
          this.#options.onError(error);
        },
      );
    }
    this.#notifyIfFull();
  }

  #settle(length: KeyLength, pair: KeyPair | undefined): void {
    this.#inFlight -= 1;
    this.#pending.set(length, (this.#pending.get(length) ?? 1) - 1);
    if (this.#stopped || pair === undefined) return;
    this.#generated += 1;
    this.#ready.get(length)?.push(pair);
    this.#refill();
  }
}
