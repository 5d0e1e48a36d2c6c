/**
 * A subscription to one channel: drives a ViewerSession over a WebSocket, with timers.
 *
 * One connection at a time. A dropped connection, 1001, 1011, 1012 or 4008 is followed by a
 * reconnection with backoff that resumes from the last message (see `afterClose`). With a
 * token function (instead of a token string) it also asks for a fresh token shortly before
 * the current one expires and sends it as a new `auth` on the open connection; if that
 * comes too late, the 4001 `token_expired` that follows is resumed from as well.
 * @module
 */

import { ApiError, SubscribeError } from './errors.js';
import { ViewerSession, afterClose, refreshTime } from './viewer.js';
import { webSocketClass } from './websocket.js';

/**
 * @typedef {import('./viewer.js').Caption} Caption
 * @typedef {import('./viewer.js').Gap} Gap
 * @typedef {import('./viewer.js').StreamPosition} StreamPosition
 * @typedef {string | (() => Promise<string>)} TokenOption a viewer token, or a function
 *   that returns a fresh one (called on every connection and before each expiry)
 *
 * @typedef {object} SubscriptionOptions
 * @property {string} url the server's `ws(s)://HOST:PORT/v1/ws`
 * @property {string | Promise<string>} channel e.g. `news-en-en`
 * @property {TokenOption} token
 * @property {StreamPosition | null} [since] resume from a position saved earlier
 * @property {(caption: Caption) => void} [onCaption] each caption block
 * @property {(caption: Caption) => void} [onTranscript] each transcript (partial or final)
 * @property {(state: {recovered: boolean, position: StreamPosition | null}) => void}
 *   [onSubscribed] the server (re)subscribed us: messages follow from `position`
 * @property {(gap: Gap) => void} [onGap] a resume could not recover every message
 * @property {(end: {reason: string, position: StreamPosition | null}) => void} [onEnd]
 *   the channel ended: `end_of_stream`, or `channel_closed` (its flow was deleted)
 * @property {(error: Error) => void} [onError] the subscription failed and stopped
 * @property {boolean} [reconnect] false: fail instead of reconnecting (default true)
 * @property {number} [maxBackoff] the longest wait between reconnections, ms (10 000)
 * @property {typeof WebSocket} [WebSocket] an implementation to use instead of the default
 */

const FIRST_BACKOFF = 250;
const REFRESH_RETRY = 1000;

export class Subscription {
  /** @type {SubscriptionOptions} */ #options;
  /** @type {ViewerSession | null} */ #session = null;
  /** @type {WebSocket | null} */ #ws = null;
  #stopped = false;
  #backoff = FIRST_BACKOFF;
  /** @type {ReturnType<typeof setTimeout> | undefined} */ #refreshTimer;
  /** @type {ReturnType<typeof setTimeout> | undefined} */ #retryTimer;
  /** @type {(position: StreamPosition | null) => void} */ #resolve = () => {};
  /** @type {(error: Error) => void} */ #reject = () => {};

  /** @param {SubscriptionOptions} options */
  constructor(options) {
    this.#options = options;
    /** @type {string | null} the channel, once known */
    this.channel = null;
    /** How many times the subscription reconnected. */
    this.reconnects = 0;
    /**
     * Resolves with the last position when the channel ends or `close()` is called;
     * rejects when the subscription fails (as `onError` is told).
     * @type {Promise<StreamPosition | null>}
     */
    this.done = new Promise((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    this.done.catch(() => {}); // failures also go to onError; no unhandled rejection
    this.#start();
  }

  /** The last message delivered (or where the channel stood at subscribing). */
  get position() {
    return this.#session?.position ?? null;
  }

  /** Whether the latest (re)subscribe recovered every missed message. */
  get recovered() {
    return this.#session?.recovered ?? null;
  }

  /** Every resume that could not recover, oldest first. */
  get gaps() {
    return [...(this.#session?.gaps ?? [])];
  }

  /** Why the subscription ended (`end_of_stream`, `channel_closed`), if it did. */
  get finished() {
    return this.#session?.finished ?? null;
  }

  /** Stop: no more callbacks, the connection closes, `done` resolves. */
  close() {
    if (this.#stop()) this.#resolve(this.position);
  }

  async #start() {
    try {
      this.channel = await this.#options.channel;
    } catch (error) {
      this.#fail(/** @type {Error} */ (error));
      return;
    }
    this.#session = new ViewerSession(this.channel, this.#options.since ?? null);
    await this.#connect();
  }

  async #connect() {
    let token;
    let Impl;
    try {
      token = await this.#token();
      Impl = this.#options.WebSocket ?? (await webSocketClass());
    } catch (error) {
      const failure = /** @type {Error} */ (error);
      if (transient(failure)) this.#dropped(null, `cannot get a token: ${failure.message}`);
      else this.#fail(failure);
      return;
    }
    if (this.#stopped) return;
    let ws;
    try {
      ws = new Impl(this.#options.url);
    } catch (error) {
      this.#fail(new SubscribeError(null, `bad URL: ${/** @type {Error} */ (error).message}`));
      return;
    }
    this.#ws = ws;
    const session = /** @type {ViewerSession} */ (this.#session);
    ws.onopen = () => session.hello(token).forEach((frame) => ws.send(frame));
    ws.onmessage = (event) => {
      if (this.#ws === ws) this.#receive(String(event.data));
    };
    ws.onclose = (event) => {
      if (this.#ws !== ws) return;
      this.#ws = null;
      const code = event.code === 1005 || event.code === 1006 ? null : event.code;
      this.#dropped(code, event.reason || 'connection lost');
    };
    ws.onerror = () => {}; // a close event follows
  }

  /** @param {string} frame */
  #receive(frame) {
    this.#backoff = FIRST_BACKOFF; // the server is talking to us again
    for (const event of /** @type {ViewerSession} */ (this.#session).receive(frame)) {
      if (event.kind === 'caption') {
        const callback = event.caption.type === 'captions' ? 'onCaption' : 'onTranscript';
        this.#call(callback, event.caption);
      } else if (event.kind === 'authenticated') {
        this.#scheduleRefresh(event.exp);
      } else if (event.kind === 'subscribed') {
        if (event.gap) this.#call('onGap', event.gap);
        this.#call('onSubscribed', { recovered: event.recovered, position: this.position });
      } else if (event.kind === 'finished') {
        this.#call('onEnd', { reason: event.reason, position: this.position });
        this.close();
      }
    }
  }

  /** The connection closed or could not open: fail, or try again after a while.
   * @param {number | null} code @param {string} reason */
  #dropped(code, reason) {
    clearTimeout(this.#refreshTimer);
    if (this.#stopped) return;
    const next = afterClose(code, reason, typeof this.#options.token === 'function');
    if (next === 'fail' || this.#options.reconnect === false) {
      this.#fail(new SubscribeError(code, reason));
      return;
    }
    this.reconnects += 1;
    this.#retryTimer = setTimeout(() => this.#connect(), this.#backoff);
    this.#backoff = Math.min(this.#backoff * 2, this.#options.maxBackoff ?? 10_000);
  }

  /** @param {number} exp */
  #scheduleRefresh(exp) {
    clearTimeout(this.#refreshTimer);
    if (typeof this.#options.token !== 'function') return;
    const now = Date.now() / 1000;
    const delay = Math.max(0, (refreshTime(exp, now) - now) * 1000);
    this.#refreshTimer = setTimeout(() => this.#refresh(), delay);
  }

  async #refresh() {
    const ws = this.#ws;
    let token;
    try {
      token = await this.#token();
    } catch (error) {
      if (!transient(/** @type {Error} */ (error))) {
        this.#fail(/** @type {Error} */ (error));
        return;
      }
      this.#refreshTimer = setTimeout(() => this.#refresh(), REFRESH_RETRY);
      return;
    }
    // answered with a new "authenticated", which schedules the next refresh
    if (ws && ws === this.#ws && ws.readyState === 1) ws.send(this.#session?.reauth(token) ?? '');
  }

  /** @returns {Promise<string>} */
  async #token() {
    const token = this.#options.token;
    return typeof token === 'function' ? token() : token;
  }

  /** @param {'onCaption' | 'onTranscript' | 'onSubscribed' | 'onGap' | 'onEnd' | 'onError'} name
   * @param {any} value */
  #call(name, value) {
    const callback = this.#options[name];
    if (!callback) return;
    try {
      callback(value);
    } catch (error) {
      console.error(`captioncast: ${name} threw`, error);
    }
  }

  /** @param {Error} error */
  #fail(error) {
    if (!this.#stop()) return;
    this.#call('onError', error);
    this.#reject(error);
  }

  /** @returns {boolean} whether this call stopped it */
  #stop() {
    if (this.#stopped) return false;
    this.#stopped = true;
    clearTimeout(this.#refreshTimer);
    clearTimeout(this.#retryTimer);
    const ws = this.#ws;
    this.#ws = null;
    if (ws && ws.readyState <= 1) ws.close(1000);
    return true;
  }
}

/** Whether a failure to get a token may pass (a network error, a server fault).
 * @param {Error} error */
function transient(error) {
  return !(error instanceof ApiError) || error.status >= 500;
}
