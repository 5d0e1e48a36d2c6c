/**
 * `CaptionClient`: one caption channel for a page, as events.
 *
 * The protocol, the resume (`since` = the last message seen, nothing lost or twice across
 * reconnections) and the reconnection with backoff are the SDK's `Subscription`
 * (js/src/subscription.js); this adds what a page shows: the connection's state
 * (`connecting`, `live`, `reconnecting`, then `ended`, `failed` or `closed`) and errors as
 * `CaptionError`s with a sentence for the viewer. The SDK reports no dropped connection, so
 * `reconnecting` comes from watching the socket's close (observed-socket.js).
 *
 * Events (`on(type, listener)` returns a function that removes the listener):
 * - `caption`: every message, a parsed `Caption` (partials, finals, caption blocks)
 * - `state`: `{state, recovered, reconnects}`; `recovered` once `live`: whether the
 *   (re)subscription delivered every message missed
 * - `gap`: a resume could not recover (the history moved on, or a new epoch)
 * - `error`: a `CaptionError`; the client has stopped
 * - `end`: `{reason}`: `end_of_stream`, or `channel_closed` when the flow was deleted
 * @module
 */

import { Subscription } from '../../js/src/subscription.js';
import { afterClose } from '../../js/src/viewer.js';
import { CaptionError } from './errors.js';
import { observedWebSocket } from './observed-socket.js';

/**
 * @typedef {import('../../js/src/viewer.js').Caption} Caption
 * @typedef {import('../../js/src/viewer.js').StreamPosition} StreamPosition
 * @typedef {'connecting' | 'live' | 'reconnecting' | 'ended' | 'failed' | 'closed'} ClientState
 *
 * @typedef {object} ClientOptions
 * @property {string} url the caption endpoint, `ws(s)://HOST:PORT/v1/ws`
 * @property {string} channel `STREAM-SOURCE-TARGET`, e.g. `news-en-de`
 * @property {string | (() => Promise<string>)} token a viewer token, or a function that
 *   fetches a fresh one (then the connection outlives each token)
 * @property {StreamPosition | null} [since] resume from a position kept earlier
 * @property {number} [maxBackoff] the longest wait between reconnections, ms (10 000)
 * @property {typeof WebSocket} [WebSocket] another implementation (tests)
 */

export class CaptionClient {
  /** @type {Map<string, Set<(value: any) => void>>} */ #listeners = new Map();
  /** @type {Subscription} */ #subscription;
  /** @type {ClientState} */ #state = 'connecting';
  #closing = false;

  /** @param {ClientOptions} options */
  constructor(options) {
    this.channel = options.channel;
    const Base = options.WebSocket ?? globalThis.WebSocket;
    if (typeof Base !== 'function') throw new TypeError('no WebSocket implementation here');
    const canRefresh = typeof options.token === 'function';
    const WebSocketImpl = observedWebSocket(Base, {
      close: (event) => this.#closed(event, canRefresh),
    });
    this.#subscription = new Subscription({
      url: options.url,
      channel: options.channel,
      token: options.token,
      since: options.since ?? null,
      maxBackoff: options.maxBackoff,
      WebSocket: WebSocketImpl,
      onCaption: (caption) => this.#emit('caption', caption),
      onTranscript: (caption) => this.#emit('caption', caption),
      onSubscribed: ({ recovered }) => this.#setState('live', recovered),
      onGap: (gap) => this.#emit('gap', gap),
      onEnd: ({ reason }) => {
        this.#setState(reason === 'end_of_stream' ? 'ended' : 'closed');
        this.#emit('end', { reason });
      },
      onError: (error) => {
        const { code = null, reason = error.message } = /** @type {any} */ (error);
        this.#setState('failed');
        this.#emit('error', new CaptionError(code, reason, this.channel));
      },
    });
  }

  /** @returns {ClientState} */
  get state() {
    return this.#state;
  }

  /** The last message delivered: where a new client would resume from. */
  get position() {
    return this.#subscription.position;
  }

  /** Whether the latest (re)subscription recovered every missed message. */
  get recovered() {
    return this.#subscription.recovered;
  }

  get reconnects() {
    return this.#subscription.reconnects;
  }

  /**
   * @param {'caption' | 'state' | 'gap' | 'error' | 'end'} type
   * @param {(value: any) => void} listener
   * @returns {() => void} removes the listener
   */
  on(type, listener) {
    let set = this.#listeners.get(type);
    if (!set) this.#listeners.set(type, (set = new Set()));
    set.add(listener);
    return () => set.delete(listener);
  }

  /** Stop: the connection closes, no more events. */
  close() {
    this.#closing = true;
    this.#subscription.close();
    this.#setState('closed');
    this.#listeners.clear();
  }

  /** @param {{code: number, reason: string}} event @param {boolean} canRefresh */
  #closed(event, canRefresh) {
    if (this.#closing || this.#state !== 'live') return; // still connecting, or done
    const code = event.code === 1005 || event.code === 1006 ? null : event.code;
    // The SDK decides the same way; a failure is reported through onError.
    if (afterClose(code, event.reason, canRefresh) !== 'fail') this.#setState('reconnecting');
  }

  /** @param {ClientState} state @param {boolean | null} [recovered] */
  #setState(state, recovered = null) {
    if (state === this.#state && state !== 'live') return;
    this.#state = state;
    this.#emit('state', { state, recovered, reconnects: this.#subscription?.reconnects ?? 0 });
  }

  /** @param {string} type @param {unknown} value */
  #emit(type, value) {
    for (const listener of [...(this.#listeners.get(type) ?? [])]) {
      try {
        listener(value);
      } catch (error) {
        console.error(`captioncast: a ${type} listener threw`, error);
      }
    }
  }
}
