// An in-process caption server behind a fake WebSocket class: the native protocol's auth,
// subscribe with `since` (recovering from its history), caption messages and close codes.
// No network, no ws package: `server.WebSocket` is what the client under test constructs.

const OPEN = 1;
const CLOSED = 3;

class FakeEvent {
  constructor(type, fields = {}) {
    this.type = type;
    Object.assign(this, fields);
  }
}

/** The WebSocket API surface the SDK and CaptionClient use. */
class FakeSocket {
  static CONNECTING = 0;
  static OPEN = OPEN;
  static CLOSED = CLOSED;

  constructor(server, url) {
    this.server = server;
    this.url = url;
    this.readyState = 0;
    this.listeners = new Map();
    this.handlers = {};
    for (const type of ['open', 'message', 'close', 'error']) {
      Object.defineProperty(this, `on${type}`, {
        get: () => this.handlers[type] ?? null,
        set: (fn) => {
          if (!(type in this.handlers)) this.addEventListener(type, (e) => this.handlers[type]?.(e));
          this.handlers[type] = fn;
        },
      });
    }
    queueMicrotask(() => server.accept(this));
  }

  addEventListener(type, listener) {
    if (!this.listeners.has(type)) this.listeners.set(type, []);
    this.listeners.get(type).push(listener);
  }

  dispatch(type, fields) {
    const event = new FakeEvent(type, fields);
    for (const listener of this.listeners.get(type) ?? []) listener(event);
  }

  send(text) {
    if (this.readyState !== OPEN) throw new Error('not open');
    queueMicrotask(() => this.server.receive(this, String(text)));
  }

  close(code = 1000, reason = '') {
    if (this.readyState === CLOSED) return;
    this.server.dropped(this);
    this.closeWith(code, reason);
  }

  // server side
  open() {
    this.readyState = OPEN;
    this.dispatch('open');
  }

  deliver(message) {
    if (this.readyState === OPEN) this.dispatch('message', { data: JSON.stringify(message) });
  }

  closeWith(code, reason) {
    if (this.readyState === CLOSED) return;
    this.readyState = CLOSED;
    this.dispatch('close', { code, reason, wasClean: code !== 1006 });
  }
}

export class FakeCaptionServer {
  constructor({ channels = ['demo-en-en'], epoch = 'e1' } = {}) {
    this.channels = new Set(channels);
    this.epoch = epoch;
    this.seq = 0;
    this.history = []; // finals, for resuming
    this.sockets = new Set();
    this.subscriptions = new Map(); // socket -> channel
    this.connections = 0;
    this.subscribes = []; // every subscribe message received
    this.down = false; // refuse connections (a server that is restarting)
    this.refuse = null; // {code, reason} to close with on subscribe
    const server = this;
    this.WebSocket = class extends FakeSocket {
      constructor(url) {
        super(server, url);
      }
    };
  }

  accept(socket) {
    if (this.down) {
      socket.closeWith(1006, '');
      return;
    }
    this.connections += 1;
    this.sockets.add(socket);
    socket.open();
  }

  receive(socket, text) {
    const message = JSON.parse(text);
    if (message.type === 'auth') {
      if (message.token === 'expired') {
        this.kickOne(socket, 4001, 'token_expired');
        return;
      }
      socket.deliver({ type: 'authenticated', streams: ['demo'], exp: Date.now() / 1000 + 3600 });
    } else if (message.type === 'subscribe') {
      this.subscribes.push(message);
      this.#subscribe(socket, message);
    } else if (message.type === 'ping') {
      socket.deliver({ type: 'pong' });
    }
  }

  #subscribe(socket, { channel, since }) {
    if (this.refuse) {
      this.kickOne(socket, this.refuse.code, this.refuse.reason);
      return;
    }
    if (!this.channels.has(channel)) {
      this.kickOne(socket, 4004, 'unknown channel');
      return;
    }
    this.subscriptions.set(socket, channel);
    const recovered = Boolean(since) && since.epoch === this.epoch
      && (this.history.length === 0 || this.history[0].seq <= since.seq + 1);
    socket.deliver({
      type: 'subscribed', channel, recovered, position: { seq: this.seq, epoch: this.epoch },
    });
    if (recovered) {
      for (const message of this.history) if (message.seq > since.seq) socket.deliver(message);
    }
  }

  /** Publish a message on a channel: a final transcript by default. */
  publish(text, { channel = 'demo-en-en', type = 'transcript', final = true, end = false,
    start = this.seq, lines } = {}) {
    this.seq += 1;
    const words = text.split(' ').filter(Boolean);
    const message = {
      seq: this.seq,
      epoch: this.epoch,
      channel,
      response: {
        id: `r${this.seq}`, type, service_type: 'transcription', language_code: 'en',
        start, end: start + words.length * 0.5, start_pts: null, start_epoch: Date.now() / 1000,
        sei_timestamp: null, is_final: final, is_end_of_stream: end, speakers: [],
        alternatives: [{
          transcript: text, start, end: start + words.length * 0.5, start_pts: null,
          start_epoch: Date.now() / 1000,
          ...(lines ? { lines } : {}),
          items: words.map((value, i) => ({
            start: start + i * 0.5, end: start + (i + 1) * 0.5, kind: 'text', value, speaker_id: 's',
          })),
        }],
      },
    };
    if (final) this.history.push(message);
    for (const [socket, subscribed] of this.subscriptions) {
      if (subscribed === channel) socket.deliver(message);
    }
    return message;
  }

  /** Close every connection with a code (1001: going away). */
  kick(code, reason) {
    for (const socket of [...this.sockets]) this.kickOne(socket, code, reason);
  }

  kickOne(socket, code, reason) {
    this.dropped(socket);
    socket.closeWith(code, reason);
  }

  dropped(socket) {
    this.sockets.delete(socket);
    this.subscriptions.delete(socket);
  }
}
