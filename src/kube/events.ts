// Events on BTPCertificates, correlated as client-go's EventCorrelator does: one Event per
// (object, type, reason) within a window. A repeat updates that Event's count, lastTimestamp and
// message instead of creating another, so a retry loop shows up as one Event with a count, never
// as an Event storm. The message is not part of the key: a message that differs only in detail
// (an error text) must not defeat the de-duplication.
import type { Logger } from 'pino';
import type { Clock } from '../runtime/clock.ts';
import type { KubeApi } from './api.ts';
import { KubeApiError } from './errors.ts';

export type EventTarget = { readonly namespace: string; readonly name: string; readonly uid: string };
export type Recordable = {
  readonly type: 'Normal' | 'Warning';
  readonly reason: string;
  readonly message: string;
};

/** How long a repeat updates the Event it repeats rather than creating a new one. */
export const EVENT_DEDUPE_WINDOW_MS = 10 * 60_000;
const MAX_REMEMBERED = 10_000;

/** The Event last written for one (object, type, reason). */
type Sent = {
  readonly name: string;
  readonly count: number;
  readonly message: string;
  readonly lastMs: number;
};

export class EventRecorder {
  readonly #api: Pick<KubeApi, 'createEvent' | 'updateEventSeries'>;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #sent = new Map<string, Sent>();

  constructor(deps: {
    api: Pick<KubeApi, 'createEvent' | 'updateEventSeries'>;
    clock: Clock;
    logger: Logger;
  }) {
    this.#api = deps.api;
    this.#clock = deps.clock;
    this.#log = deps.logger;
  }

  /**
   * Creates the Event, or counts it on the Event of the same object, type and reason written within
   * the window. Never throws: an Event that cannot be written is logged and dropped.
   */
  async record(target: EventTarget, event: Recordable): Promise<void> {
    const nowMs = this.#clock.nowMs();
    const at = this.#clock.now();
    const key = `${target.uid}\0${event.type}\0${event.reason}`;
    const last = this.#sent.get(key);
    try {
      if (last !== undefined && nowMs - last.lastMs < EVENT_DEDUPE_WINDOW_MS) {
        const count = last.count + 1;
        const updated = await this.#api
          .updateEventSeries(target.namespace, last.name, {
            count,
            lastTimestamp: at,
            message: event.message,
          })
          .then(
            () => true,
            (e: unknown) => {
              // Expired (the API server's event TTL) or deleted: start a new one.
              if (e instanceof KubeApiError && e.status === 404) return false;
              throw e;
            },
          );
        if (updated) {
          this.#remember(key, { ...last, count, message: event.message, lastMs: nowMs });
          return;
        }
      }
      const name = await this.#api.createEvent({
        namespace: target.namespace,
        involved: { name: target.name, uid: target.uid },
        ...event,
        count: 1,
        firstTimestamp: at,
        lastTimestamp: at,
      });
      this.#remember(key, { name, count: 1, message: event.message, lastMs: nowMs });
    } catch (e) {
      this.#log.warn(
        { err: e, reason: event.reason, object: `${target.namespace}/${target.name}` },
        'event not recorded',
      );
    }
  }

  #remember(key: string, sent: Sent) {
    this.#sent.delete(key);
    this.#sent.set(key, sent);
    if (this.#sent.size > MAX_REMEMBERED) {
      const oldest = this.#sent.keys().next();
      if (!oldest.done) this.#sent.delete(oldest.value);
    }
  }
}
