/**
 * The viewer side of `/v1/ws` for one channel, as a pure state machine: frames in, events
 * out, across any number of connections. No I/O and no timers (see subscription.js).
 *
 * The session keeps the channel position, so that each reconnection resumes with `since` =
 * the last message seen: the server then sends every final message after it (`recovered`)
 * or says it cannot (a gap). Messages at or before the position are dropped, so a resume
 * never delivers one twice.
 * @module
 */

/** Close codes after which trying again cannot help (docs/protocol.md#close-codes). */
export const FATAL_CLOSE_CODES = new Set([4001, 4002, 4003, 4004, 4009, 1009]);

/**
 * @typedef {{seq: number, epoch: string}} StreamPosition
 *
 * @typedef {object} Caption One channel message: a caption block (`type: 'captions'`) or a
 *   transcript (`'transcript'`, growing while `isFinal` is false). Times in seconds.
 * @property {number} seq
 * @property {string} epoch
 * @property {string} channel
 * @property {string} id
 * @property {'captions' | 'transcript'} type
 * @property {string} language
 * @property {string} text
 * @property {string[]} lines
 * @property {number} start the flow's audio clock
 * @property {number} end
 * @property {boolean} isFinal
 * @property {boolean} isEndOfStream
 * @property {number | null} startPts the source's presentation time at `start`
 * @property {number | null} startEpoch the wall clock (Unix seconds) at `start`
 * @property {number | null} seiTimestamp the broadcaster's SEI clock at `start`
 * @property {object} response the Kaltura REACH response object, as received
 *
 * @typedef {{channel: string, since: StreamPosition, position: StreamPosition,
 *   historyLost: boolean}} Gap A resume that could not recover: messages after `since`
 *   were not delivered; `historyLost` when the channel started a new epoch.
 *
 * @typedef {{kind: 'authenticated', exp: number}
 *   | {kind: 'subscribed', recovered: boolean, gap: Gap | null}
 *   | {kind: 'caption', caption: Caption}
 *   | {kind: 'finished', reason: string}} ViewerEvent
 */

/**
 * What to do once a connection closed (`code` null: it dropped without a close frame).
 * Going away (1001), restarts (1012), faults (1011), a slow viewer (4008) and dropped
 * connections resume; an expired token resumes too when a fresh one can be had.
 * @param {number | null} code
 * @param {string} reason
 * @param {boolean} canRefresh
 * @returns {'resume' | 'reauth' | 'fail'}
 */
export function afterClose(code, reason, canRefresh) {
  if (code === 4001 && reason === 'token_expired' && canRefresh) return 'reauth';
  if (code !== null && FATAL_CLOSE_CODES.has(code)) return 'fail';
  return 'resume';
}

/**
 * When to replace a token that expires at `exp`: a fifth of its remaining life before, at
 * most a minute before (Unix seconds).
 * @param {number} exp
 * @param {number} now
 */
export function refreshTime(exp, now) {
  return exp - Math.min(60, Math.max(0, exp - now) / 5);
}

/**
 * @param {any} envelope a parsed caption message
 * @returns {Caption | null} null when it is not one
 */
export function parseCaption(envelope) {
  const r = envelope?.response;
  if (!Number.isInteger(envelope.seq) || typeof envelope.epoch !== 'string' || !r || !r.type) {
    return null;
  }
  const alternative = (r.alternatives && r.alternatives[0]) || {};
  const text = String(alternative.transcript ?? '');
  const lines = Array.isArray(alternative.lines) && alternative.lines.length
    ? alternative.lines.map(String)
    : (text ? [text] : []);
  return {
    seq: envelope.seq,
    epoch: envelope.epoch,
    channel: String(envelope.channel),
    id: String(r.id ?? ''),
    type: r.type,
    language: String(r.language_code ?? ''),
    text,
    lines,
    start: Number(r.start ?? 0),
    end: Number(r.end ?? 0),
    isFinal: r.is_final !== false,
    isEndOfStream: r.is_end_of_stream === true,
    startPts: r.start_pts ?? null,
    startEpoch: r.start_epoch ?? null,
    seiTimestamp: r.sei_timestamp ?? null,
    response: r,
  };
}

/** One subscription's protocol state, kept across reconnections. */
export class ViewerSession {
  /**
   * @param {string} channel
   * @param {StreamPosition | null} [since] resume a subscription persisted earlier
   * @param {boolean} [untilEndOfStream] finish at the end-of-stream message (default)
   */
  constructor(channel, since = null, untilEndOfStream = true) {
    this.channel = channel;
    /** @type {StreamPosition | null} */
    this.position = since;
    this.untilEndOfStream = untilEndOfStream;
    /** @type {boolean | null} whether the latest (re)subscribe recovered */
    this.recovered = null;
    /** @type {Gap[]} */
    this.gaps = [];
    /** @type {string | null} why nothing more will come */
    this.finished = null;
  }

  /**
   * The frames that open a connection: auth, then subscribe from the position.
   * @param {string} token
   * @returns {string[]}
   */
  hello(token) {
    /** @type {Record<string, unknown>} */
    const subscribe = { type: 'subscribe', channel: this.channel };
    if (this.position) subscribe.since = { seq: this.position.seq, epoch: this.position.epoch };
    return [this.reauth(token), JSON.stringify(subscribe)];
  }

  /**
   * The frame that replaces the connection's token before it expires.
   * @param {string} token
   */
  reauth(token) {
    return JSON.stringify({ type: 'auth', token });
  }

  /**
   * One frame from the server; frames that are not part of the protocol are ignored.
   * @param {string} frame
   * @returns {ViewerEvent[]}
   */
  receive(frame) {
    let message;
    try {
      message = JSON.parse(frame);
    } catch {
      return [];
    }
    if (!message || typeof message !== 'object' || this.finished) return [];
    if ('response' in message && 'seq' in message) return this.#message(message);
    const mine = message.channel === this.channel;
    if (message.type === 'authenticated' && Number.isInteger(message.exp)) {
      return [{ kind: 'authenticated', exp: message.exp }];
    }
    if (message.type === 'subscribed' && mine) return [this.#subscribed(message)];
    if (message.type === 'unsubscribed' && mine) {
      this.finished = String(message.reason ?? 'channel_closed');
      return [{ kind: 'finished', reason: this.finished }];
    }
    return [];
  }

  /** @param {any} message @returns {ViewerEvent[]} */
  #message(message) {
    const caption = parseCaption(message);
    if (!caption || caption.channel !== this.channel || this.#seen(caption)) return [];
    this.position = { seq: caption.seq, epoch: caption.epoch };
    /** @type {ViewerEvent[]} */
    const events = [{ kind: 'caption', caption }];
    if (caption.isEndOfStream && this.untilEndOfStream) {
      this.finished = 'end_of_stream';
      events.push({ kind: 'finished', reason: this.finished });
    }
    return events;
  }

  /** @param {StreamPosition} position */
  #seen(position) {
    const last = this.position;
    return last !== null && last.epoch === position.epoch && position.seq <= last.seq;
  }

  /** @param {any} message @returns {ViewerEvent} */
  #subscribed(message) {
    this.recovered = message.recovered === true;
    if (this.recovered) return { kind: 'subscribed', recovered: true, gap: null };
    const pos = message.position || {};
    const now = { seq: Number(pos.seq ?? 0), epoch: String(pos.epoch ?? '') };
    const since = this.position;
    const gap = since
      ? { channel: this.channel, since, position: now, historyLost: since.epoch !== now.epoch }
      : null;
    if (gap) this.gaps.push(gap);
    this.position = now; // the resume point until a message arrives
    return { kind: 'subscribed', recovered: false, gap };
  }
}
