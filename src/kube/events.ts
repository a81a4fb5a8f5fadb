// Events on BTPCertificates, de-duplicated: the same event for the same object is sent once per
// window, so a retry loop cannot become an Event storm.
import type { Logger } from 'pino';
import type { Clock } from '../runtime/clock.ts';
import type { KubeApi } from './api.ts';

export type EventTarget = { readonly namespace: string; readonly name: string; readonly uid: string };
export type Recordable = {
  readonly type: 'Normal' | 'Warning';
  readonly reason: string;
  readonly message: string;
};

export const EVENT_DEDUPE_WINDOW_MS = 10 * 60_000;
const MAX_REMEMBERED = 10_000;

export class EventRecorder {
  readonly #api: Pick<KubeApi, 'createEvent'>;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #sent = new Map<string, number>();

  constructor(deps: { api: Pick<KubeApi, 'createEvent'>; clock: Clock; logger: Logger }) {
    this.#api = deps.api;
    this.#clock = deps.clock;
    this.#log = deps.logger;
  }

  /** Sends the event unless the same one went out for this object within the window. Never throws. */
  async record(target: EventTarget, event: Recordable): Promise<void> {
    const now = this.#clock.nowMs();
    const key = `${target.uid}\0${event.type}\0${event.reason}\0${event.message}`;
    const last = this.#sent.get(key);
    if (last !== undefined && now - last < EVENT_DEDUPE_WINDOW_MS) return;
    this.#remember(key, now);
    try {
      const at = this.#clock.now();
      await this.#api.createEvent({
        namespace: target.namespace,
        involved: { name: target.name, uid: target.uid },
        ...event,
        count: 1,
        firstTimestamp: at,
        lastTimestamp: at,
      });
    } catch (e) {
      this.#log.warn(
        { err: e, reason: event.reason, object: `${target.namespace}/${target.name}` },
        'event not recorded',
      );
    }
  }

  #remember(key: string, now: number) {
    this.#sent.delete(key);
    this.#sent.set(key, now);
    if (this.#sent.size > MAX_REMEMBERED) {
      const oldest = this.#sent.keys().next();
      if (!oldest.done) this.#sent.delete(oldest.value);
    }
  }
}
