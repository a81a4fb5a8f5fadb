import { describe, expect, it } from 'vitest';
import { type Action, awaitChange, requeue } from '../../../src/runtime/action.ts';
import type { BackoffPolicy } from '../../../src/runtime/backoff.ts';
import { OperatorError } from '../../../src/runtime/errors.ts';
import { type RunResult, WorkQueue, type WorkQueueOptions } from '../../../src/runtime/queue.ts';
import { FakeClock } from '../../support/fake-clock.ts';

const SEC = 1_000;
const MIN = 60 * SEC;

interface Deferred<T> {
  readonly promise: Promise<T>;
  resolve(value: T): void;
  reject(error: unknown): void;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

interface Run {
  readonly key: string;
  readonly atMs: number;
}

/**
 * A queue on a fake clock whose handler records every run (relative to the start time) and
 * answers with `respond(key, runIndexOfThatKey)`.
 */
function setup(
  respond: (key: string, n: number) => Promise<Action> | Action = () => awaitChange(),
  options: Partial<WorkQueueOptions> = {},
) {
  const clock = new FakeClock();
  const t0 = clock.nowMs();
  const runs: Run[] = [];
  const results: RunResult[] = [];
  const perKey = new Map<string, number>();
  const queue = new WorkQueue({
    clock,
    random: () => 0.5, // no jitter unless a test injects its own
    onResult: (r) => results.push(r),
    ...options,
    handler: async (key) => {
      const n = perKey.get(key) ?? 0;
      perKey.set(key, n + 1);
      runs.push({ key, atMs: clock.nowMs() - t0 });
      return respond(key, n);
    },
  });
  const elapsed = () => clock.nowMs() - t0;
  const runsOf = (key: string) => runs.filter((r) => r.key === key).map((r) => r.atMs);
  return { clock, queue, runs, results, runsOf, elapsed };
}

describe('WorkQueue', () => {
  it('runs an added key once it is due, and not before start()', async () => {
    const { clock, queue, runs } = setup();
    queue.add('ns/a');
    await clock.advance(SEC);
    expect(runs).toEqual([]);
    queue.start();
    await clock.tick();
    expect(runs.map((r) => r.key)).toEqual(['ns/a']);
    await queue.stop();
  });

  describe('dedupe: the earliest due time wins', () => {
    const cases: { name: string; adds: number[]; runsAt: number }[] = [
      { name: 'later add after earlier', adds: [1 * SEC, 5 * SEC], runsAt: 1 * SEC },
      { name: 'earlier add after later', adds: [5 * SEC, 1 * SEC], runsAt: 1 * SEC },
      { name: 'immediate add pulls a delayed key forward', adds: [30 * SEC, 0], runsAt: 0 },
      { name: 'many identical adds', adds: [2 * SEC, 2 * SEC, 2 * SEC, 2 * SEC], runsAt: 2 * SEC },
    ];
    it.each(cases)('$name', async ({ adds, runsAt }) => {
      const { clock, queue, runsOf } = setup();
      queue.start();
      for (const ms of adds) queue.add('ns/a', ms);
      expect(queue.size).toBe(1);
      await clock.advance(10 * SEC);
      expect(runsOf('ns/a')).toEqual([runsAt]);
      await queue.stop();
    });
  });

  it('never runs one key twice at once, and re-runs it once after adds during a run', async () => {
    const gates: Deferred<Action>[] = [];
    let active = 0;
    let maxActive = 0;
    const { clock, queue, runsOf } = setup(async () => {
      active++;
      maxActive = Math.max(maxActive, active);
      const gate = deferred<Action>();
      gates.push(gate);
      try {
        return await gate.promise;
      } finally {
        active--;
      }
    });
    queue.start();
    queue.add('ns/a');
    await clock.tick();
    expect(gates).toHaveLength(1);
    expect(queue.inspect('ns/a')).toMatchObject({ running: true, queued: false });

    // Three adds while it runs: no second concurrent run, exactly one re-run afterwards.
    queue.add('ns/a');
    queue.add('ns/a', 5 * SEC);
    queue.add('ns/a');
    await clock.advance(SEC);
    expect(gates).toHaveLength(1);
    expect(queue.inspect('ns/a')).toMatchObject({ running: true, rerunDueMs: clock.nowMs() - SEC });

    gates[0]?.resolve(awaitChange());
    await clock.tick();
    expect(gates).toHaveLength(2);
    gates[1]?.resolve(awaitChange());
    await clock.advance(5 * SEC);
    expect(runsOf('ns/a')).toEqual([0, SEC]);
    expect(maxActive).toBe(1);
    await queue.stop();
  });

  it('an add with a delay during a run schedules the re-run at that delay', async () => {
    const gate = deferred<Action>();
    const { clock, queue, runsOf } = setup((_key, n) => (n === 0 ? gate.promise : awaitChange()));
    queue.start();
    queue.add('ns/a');
    await clock.tick();
    queue.add('ns/a', 20 * SEC);
    await clock.advance(5 * SEC);
    gate.resolve(awaitChange()); // would resync at 10 min; the add asked for 20 s
    await clock.advance(MIN);
    expect(runsOf('ns/a')).toEqual([0, 20 * SEC]);
    await queue.stop();
  });

  it('respects the global concurrency cap, running due keys in due order', async () => {
    const gates = new Map<string, Deferred<Action>>();
    const started: string[] = [];
    const { clock, queue } = setup(
      (key) => {
        started.push(key);
        const gate = deferred<Action>();
        gates.set(key, gate);
        return gate.promise;
      },
      { concurrency: 2 },
    );
    queue.start();
    queue.add('ns/d', 4);
    queue.add('ns/b', 2);
    queue.add('ns/a', 1);
    queue.add('ns/c', 3);
    queue.add('ns/e', 4); // same due time as ns/d, added later
    await clock.advance(10);
    expect(started).toEqual(['ns/a', 'ns/b']);
    expect(queue.inFlight).toBe(2);

    gates.get('ns/b')?.resolve(awaitChange());
    await clock.tick();
    expect(started).toEqual(['ns/a', 'ns/b', 'ns/c']);
    expect(queue.inFlight).toBe(2);

    gates.get('ns/a')?.resolve(awaitChange());
    gates.get('ns/c')?.resolve(awaitChange());
    await clock.tick();
    expect(started).toEqual(['ns/a', 'ns/b', 'ns/c', 'ns/d', 'ns/e']);
    gates.get('ns/d')?.resolve(awaitChange());
    gates.get('ns/e')?.resolve(awaitChange());
    await clock.tick();
    expect(queue.inFlight).toBe(0);
    await queue.stop();
  });

  it('never exceeds the cap under load', async () => {
    let active = 0;
    let maxActive = 0;
    const { clock, queue, runs } = setup(
      async () => {
        active++;
        maxActive = Math.max(maxActive, active);
        for (let i = 0; i < 5; i++) await Promise.resolve();
        active--;
        return awaitChange();
      },
      { concurrency: 3 },
    );
    queue.start();
    for (let i = 0; i < 50; i++) queue.add(`ns/k${i}`, i % 7);
    await clock.advance(SEC);
    expect(runs).toHaveLength(50);
    expect(maxActive).toBe(3);
    await queue.stop();
  });

  describe('fair across namespaces: a free worker goes to the namespace with due keys and the fewest runs', () => {
    /** A handler whose runs wait until the test lets them end; records the start order. */
    function gated(concurrency: number) {
      const gates = new Map<string, Deferred<Action>>();
      const started: string[] = [];
      const q = setup(
        (key) => {
          started.push(key);
          const gate = deferred<Action>();
          gates.set(key, gate);
          return gate.promise;
        },
        { concurrency },
      );
      const finish = (key: string) => gates.get(key)?.resolve(awaitChange());
      /** Ends every run, also those that start meanwhile, then stops. */
      const drain = async () => {
        const stopping = q.queue.stop();
        for (const gate of gates.values()) gate.resolve(awaitChange());
        await stopping;
      };
      return { ...q, started, finish, drain };
    }

    it('many due keys of one namespace queued before one key of another: that key runs in the first round', async () => {
      const { clock, queue, started, drain } = gated(2);
      for (let i = 0; i < 10; i++) queue.add(`attacker/k${i}`);
      queue.add('victim/v');
      queue.start();
      await clock.tick();
      expect(started).toEqual(['attacker/k0', 'victim/v']);
      await drain();
    });

    it('a key of another namespace that becomes due while one namespace fills every worker takes the next free worker', async () => {
      const { clock, queue, started, finish, drain } = gated(2);
      queue.start();
      for (let i = 0; i < 10; i++) queue.add(`attacker/k${i}`);
      await clock.tick();
      expect(started).toEqual(['attacker/k0', 'attacker/k1']);
      queue.add('victim/v', SEC);
      await clock.advance(SEC);
      expect(started).toHaveLength(2); // every worker is busy: no run starts
      finish('attacker/k0');
      await clock.tick();
      expect(started).toEqual(['attacker/k0', 'attacker/k1', 'victim/v']);
      // The attacker's keys still all run, in their order.
      for (let i = 1; i < 10; i++) {
        finish(`attacker/k${i}`);
        await clock.tick();
      }
      finish('victim/v');
      await clock.tick();
      expect(started.filter((k) => k.startsWith('attacker/'))).toEqual(
        Array.from({ length: 10 }, (_, i) => `attacker/k${i}`),
      );
      await drain();
    });

    it('namespaces with due keys take turns (due order within each)', async () => {
      const { clock, queue, runs } = setup(() => awaitChange(), { concurrency: 1 });
      for (const ns of ['a', 'b', 'c']) for (let i = 0; i < 3; i++) queue.add(`${ns}/k${i}`);
      queue.start();
      await clock.advance(SEC);
      expect(runs.map((r) => r.key)).toEqual([
        'a/k0',
        'b/k0',
        'c/k0',
        'a/k1',
        'b/k1',
        'c/k1',
        'a/k2',
        'b/k2',
        'c/k2',
      ]);
      await queue.stop();
    });

    it('one namespace alone may use every worker', async () => {
      const { clock, queue, started, finish, drain } = gated(3);
      queue.start();
      for (let i = 0; i < 5; i++) queue.add(`only/k${i}`);
      await clock.tick();
      expect(started).toEqual(['only/k0', 'only/k1', 'only/k2']);
      finish('only/k0');
      finish('only/k1');
      await clock.tick();
      expect(started).toEqual(['only/k0', 'only/k1', 'only/k2', 'only/k3', 'only/k4']);
      await drain();
    });
  });

  describe('retryable errors back off per key', () => {
    const policy: BackoffPolicy = { baseMs: SEC, maxMs: 10 * SEC, jitter: 0.2 };
    const cases: { name: string; random: number; expected: number[] }[] = [
      // delays: 1, 2, 4, 8, 10 (cap), 10 s
      { name: 'no jitter (random = 0.5)', random: 0.5, expected: [1, 2, 4, 8, 10, 10] },
      // -20 %: 0.8, 1.6, 3.2, 6.4, 8, 8 s
      { name: 'lowest jitter (random = 0)', random: 0, expected: [0.8, 1.6, 3.2, 6.4, 8, 8] },
      // +20 %, but never above maxMs: 1.2, 2.4, 4.8, 9.6, 10, 10 s
      { name: 'highest jitter (random -> 1)', random: 1 - 1e-12, expected: [1.2, 2.4, 4.8, 9.6, 10, 10] },
    ];
    it.each(cases)('$name', async ({ random, expected }) => {
      const { clock, queue, results } = setup(
        () => {
          throw new Error('apiserver unavailable');
        },
        { backoff: policy, random: () => random },
      );
      queue.start();
      queue.add('ns/a');
      await clock.advance(2 * MIN);
      const delays = results.slice(0, expected.length).map((r) => (r.nextRunInMs ?? -1) / SEC);
      expect(delays.map((d) => Math.round(d * 1000) / 1000)).toEqual(expected);
      expect(results.slice(0, 6).map((r) => r.failures)).toEqual([1, 2, 3, 4, 5, 6]);
      expect(results.every((r) => r.outcome === 'retry' && r.errorCode === 'Unknown')).toBe(true);
      await queue.stop();
    });

    it('keeps every jittered delay within [base*(1-j), max] over many draws', async () => {
      let seed = 42;
      const lcg = () => {
        seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
        return seed / 2 ** 31;
      };
      const { clock, queue, results } = setup(
        () => {
          throw new Error('boom');
        },
        { backoff: policy, random: lcg },
      );
      queue.start();
      queue.add('ns/a');
      await clock.advance(30 * MIN);
      expect(results.length).toBeGreaterThan(100);
      for (const r of results) {
        const raw = Math.min(policy.maxMs, policy.baseMs * 2 ** (r.failures - 1));
        expect(r.nextRunInMs).toBeGreaterThanOrEqual(raw * (1 - policy.jitter) - 1);
        expect(r.nextRunInMs).toBeLessThanOrEqual(Math.min(policy.maxMs, raw * (1 + policy.jitter)) + 1);
      }
      await queue.stop();
    });

    it('resets the failure count on success', async () => {
      // fail, fail, succeed (requeue 1 min), fail: the last failure waits base again.
      const { clock, queue, results, runsOf } = setup(
        (_key, n) => {
          if (n === 2) return requeue(MIN);
          throw new Error('flaky');
        },
        { backoff: policy },
      );
      queue.start();
      queue.add('ns/a');
      await clock.advance(MIN + 5 * SEC);
      expect(runsOf('ns/a').slice(0, 4)).toEqual([0, 1 * SEC, 3 * SEC, 63 * SEC]);
      expect(results.slice(0, 4).map((r) => [r.outcome, r.failures])).toEqual([
        ['retry', 1],
        ['retry', 2],
        ['requeue', 0],
        ['retry', 1],
      ]);
      await queue.stop();
    });

    it('backs off each key independently', async () => {
      const { clock, queue, runsOf } = setup(
        (key) => {
          if (key === 'ns/bad') throw new Error('nope');
          return requeue(SEC);
        },
        { backoff: policy },
      );
      queue.start();
      queue.add('ns/bad');
      queue.add('ns/good');
      await clock.advance(7 * SEC);
      expect(runsOf('ns/bad')).toEqual([0, 1 * SEC, 3 * SEC, 7 * SEC]);
      expect(runsOf('ns/good')).toEqual([0, 1, 2, 3, 4, 5, 6, 7].map((s) => s * SEC));
      await queue.stop();
    });

    it('a change (add) during backoff runs the key right away', async () => {
      const { clock, queue, runsOf } = setup(
        (_key, n) => {
          if (n < 3) throw new Error('not yet');
          return awaitChange();
        },
        { backoff: policy },
      );
      queue.start();
      queue.add('ns/a');
      await clock.advance(3 * SEC); // runs at 0, 1 s, 3 s; next retry at 7 s
      queue.add('ns/a');
      await clock.tick();
      expect(runsOf('ns/a')).toEqual([0, 1 * SEC, 3 * SEC, 3 * SEC]);
      await queue.stop();
    });
  });

  it('does not retry terminal errors, but still resyncs them', async () => {
    const { clock, queue, results, runsOf } = setup(
      () => {
        throw new OperatorError('InvalidSpec', 'spec.secretName is empty', { retryable: false });
      },
      { resyncMs: 10 * MIN },
    );
    queue.start();
    queue.add('ns/a');
    await clock.advance(9 * MIN);
    expect(runsOf('ns/a')).toEqual([0]);
    expect(results[0]).toMatchObject({
      outcome: 'terminal',
      errorCode: 'InvalidSpec',
      nextRunInMs: 10 * MIN,
    });
    await clock.advance(2 * MIN);
    expect(runsOf('ns/a')).toEqual([0, 10 * MIN]);
    expect(queue.counts).toEqual({ requeue: 0, awaitChange: 0, retry: 0, terminal: 2 });
    await queue.stop();
  });

  it('retries OperatorErrors marked retryable with backoff', async () => {
    const { clock, queue, results } = setup(() => {
      throw new OperatorError('BTPUnavailable', 'service manager returned 503', { retryable: true });
    });
    queue.start();
    queue.add('ns/a');
    await clock.tick();
    expect(results[0]).toMatchObject({ outcome: 'retry', errorCode: 'BTPUnavailable', failures: 1 });
    await queue.stop();
  });

  describe('scheduling after success', () => {
    const cases: { name: string; action: Action; resyncMs: number; next: number }[] = [
      { name: 'requeue(ms) runs after ms', action: requeue(30 * SEC), resyncMs: 10 * MIN, next: 30 * SEC },
      {
        name: 'requeue beyond resync is capped',
        action: requeue(24 * 60 * MIN),
        resyncMs: 10 * MIN,
        next: 10 * MIN,
      },
      { name: 'requeue(0) runs again at once', action: requeue(0), resyncMs: 10 * MIN, next: 0 },
      {
        name: 'awaitChange resyncs after resyncMs',
        action: awaitChange(),
        resyncMs: 10 * MIN,
        next: 10 * MIN,
      },
      { name: 'custom resync period', action: awaitChange(), resyncMs: 2 * MIN, next: 2 * MIN },
    ];
    it.each(cases)('$name', async ({ action, resyncMs, next }) => {
      const { clock, queue, runsOf, results } = setup((_key, n) => (n === 0 ? action : awaitChange()), {
        resyncMs,
      });
      queue.start();
      queue.add('ns/a');
      await clock.tick();
      expect(results[0]?.nextRunInMs).toBe(next);
      await clock.advance(next);
      expect(runsOf('ns/a')).toEqual([0, next]);
      await queue.stop();
    });

    it('resyncs every known key periodically', async () => {
      const { clock, queue, runsOf } = setup(() => awaitChange(), { resyncMs: 5 * MIN });
      queue.start();
      queue.add('ns/a');
      queue.add('ns/b', MIN);
      await clock.advance(16 * MIN);
      expect(runsOf('ns/a')).toEqual([0, 5, 10, 15].map((m) => m * MIN));
      expect(runsOf('ns/b')).toEqual([1, 6, 11, 16].map((m) => m * MIN));
    });

    it('caps add delays at the resync period too', async () => {
      const { clock, queue } = setup(() => awaitChange(), { resyncMs: 5 * MIN });
      queue.add('ns/a', 365 * 24 * 60 * MIN);
      expect(queue.inspect('ns/a')?.dueMs).toBe(clock.nowMs() + 5 * MIN);
    });
  });

  describe('forget', () => {
    it('drops a queued key: no run, no resync', async () => {
      const { clock, queue, runs } = setup();
      queue.start();
      queue.add('ns/a', SEC);
      queue.forget('ns/a');
      expect(queue.size).toBe(0);
      await clock.advance(30 * MIN);
      expect(runs).toEqual([]);
      expect(clock.pendingTimers).toBe(0);
    });

    it('called by the handler itself (after finalizing), drops the key when the run ends', async () => {
      let queue!: WorkQueue;
      const env = setup(async (key) => {
        queue.forget(key);
        return awaitChange();
      });
      queue = env.queue;
      queue.start();
      queue.add('ns/a');
      await env.clock.advance(30 * MIN);
      expect(env.runsOf('ns/a')).toEqual([0]);
      expect(queue.size).toBe(0);
      expect(env.results[0]?.nextRunInMs).toBeUndefined();
    });

    it('an add after forget during a run keeps the key', async () => {
      const gate = deferred<Action>();
      const { clock, queue, runsOf } = setup((_key, n) => (n === 0 ? gate.promise : awaitChange()));
      queue.start();
      queue.add('ns/a');
      await clock.tick();
      queue.forget('ns/a');
      queue.add('ns/a', SEC);
      gate.resolve(awaitChange());
      await clock.advance(SEC);
      expect(runsOf('ns/a')).toEqual([0, SEC]);
      await queue.stop();
    });

    it('forgets the failure count', async () => {
      const { clock, queue, results } = setup(() => {
        throw new Error('x');
      });
      queue.start();
      queue.add('ns/a');
      await clock.advance(3 * SEC); // runs at 0, 1 s, 3 s
      expect(results.at(-1)?.failures).toBe(3);
      queue.forget('ns/a');
      queue.add('ns/a');
      await clock.tick();
      expect(results.at(-1)?.failures).toBe(1);
      await queue.stop();
    });
  });

  describe('stop', () => {
    it('waits for in-flight runs, then starts nothing more', async () => {
      const gate = deferred<Action>();
      const { clock, queue, runs } = setup((key) => (key === 'ns/slow' ? gate.promise : awaitChange()), {
        concurrency: 1,
      });
      queue.start();
      queue.add('ns/slow');
      queue.add('ns/next', 1);
      await clock.tick();
      let stopped = false;
      const stopping = queue.stop().then(() => {
        stopped = true;
      });
      await clock.advance(SEC);
      expect(stopped).toBe(false);
      gate.resolve(requeue(SEC));
      await stopping;
      expect(stopped).toBe(true);
      expect(queue.inFlight).toBe(0);
      queue.add('ns/late');
      await clock.advance(30 * MIN);
      expect(runs.map((r) => r.key)).toEqual(['ns/slow']);
      expect(clock.pendingTimers).toBe(0);
    });

    it('cannot be started again', async () => {
      const { queue } = setup();
      await queue.stop();
      expect(() => queue.start()).toThrow(/after stop/);
    });
  });

  it('reports how long a key waited for a worker after it was due, and how many wait now', async () => {
    const gate = deferred<Action>();
    const { clock, queue, results } = setup((key) => (key === 'ns/a' ? gate.promise : awaitChange()), {
      concurrency: 1,
    });
    queue.start();
    queue.add('ns/a');
    queue.add('ns/b');
    queue.add('ns/c', 10 * SEC);
    await clock.tick();
    expect(queue.waiting).toBe(1); // b: a runs, c is not due
    await clock.advance(15 * SEC);
    expect(queue.waiting).toBe(2); // b and c
    gate.resolve(awaitChange());
    await clock.tick();
    expect(queue.waiting).toBe(0);
    expect(results.map((r) => [r.key, r.waitMs])).toEqual([
      ['ns/a', 0],
      ['ns/b', 15 * SEC],
      ['ns/c', 5 * SEC],
    ]);
    await queue.stop();
  });

  it('reports results and survives a throwing onResult hook', async () => {
    const { clock, queue, runsOf } = setup(() => requeue(SEC), {
      onResult: () => {
        throw new Error('metrics broke');
      },
    });
    queue.start();
    queue.add('ns/a');
    await clock.advance(2 * SEC);
    expect(runsOf('ns/a')).toEqual([0, SEC, 2 * SEC]);
    expect(queue.counts.requeue).toBe(3);
    await queue.stop();
  });

  it('rejects invalid options', () => {
    const clock = new FakeClock();
    const handler = async () => awaitChange();
    expect(() => new WorkQueue({ clock, handler, concurrency: 0 })).toThrow(RangeError);
    expect(() => new WorkQueue({ clock, handler, resyncMs: 0 })).toThrow(RangeError);
    expect(() => new WorkQueue({ clock, handler, backoff: { baseMs: 10, maxMs: 1, jitter: 0 } })).toThrow(
      RangeError,
    );
    expect(() => new WorkQueue({ clock, handler, backoff: { baseMs: 1, maxMs: 10, jitter: 2 } })).toThrow(
      RangeError,
    );
  });
});
