// An in-process stand-in for the server's /v1/ws: enough of the protocol to test resuming
// and token refresh without Python (auth, subscribe with since, history, close codes).
import { WebSocketServer } from 'ws';

export class FakeServer {
  constructor() {
    this.history = []; // every message sent on the channel, as JSON text
    this.epoch = 'e1';
    this.tokens = []; // every token received, in order
    this.connections = 0;
    this.exp = () => Math.floor(Date.now() / 1000) + 3600;
    this.sockets = new Set();
  }

  /** @returns {Promise<string>} the URL to connect to */
  async start() {
    this.wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise((resolve) => this.wss.once('listening', resolve));
    this.wss.on('connection', (ws) => this.#serve(ws));
    return `ws://127.0.0.1:${this.wss.address().port}/v1/ws`;
  }

  async stop() {
    for (const ws of this.sockets) ws.terminate();
    await new Promise((resolve) => this.wss.close(resolve));
  }

  /** Publish on the channel: to the history and every live subscriber. */
  publish(text, { end = false } = {}) {
    const seq = this.history.length + 1;
    const response = {
      id: `r${seq}`, type: end ? 'transcript' : 'captions', language_code: 'en', start: seq,
      end: seq + 1, is_final: true, is_end_of_stream: end,
      alternatives: [{ transcript: text, lines: text ? [text] : [] }],
    };
    const frame = JSON.stringify({ seq, epoch: this.epoch, channel: 'demo-en-en', response });
    this.history.push(frame);
    for (const ws of this.sockets) if (ws.subscribed) ws.send(frame);
  }

  /** Close every connection with `code`. */
  kick(code, reason = '') {
    for (const ws of this.sockets) ws.close(code, reason);
  }

  #serve(ws) {
    this.connections += 1;
    this.sockets.add(ws);
    ws.on('close', () => this.sockets.delete(ws));
    ws.on('message', (data) => {
      const msg = JSON.parse(String(data));
      if (msg.type === 'auth') {
        this.tokens.push(msg.token);
        if (msg.token === 'refused') ws.close(4003, 'token does not cover this stream');
        else ws.send(JSON.stringify({ type: 'authenticated', streams: ['demo'], exp: this.exp() }));
      } else if (msg.type === 'subscribe') {
        const since = msg.since && msg.since.epoch === this.epoch ? msg.since.seq : null;
        const seq = this.history.length;
        ws.send(JSON.stringify({
          type: 'subscribed', channel: msg.channel, recovered: since !== null,
          position: { seq, epoch: this.epoch },
        }));
        if (since !== null) this.history.slice(since).forEach((frame) => ws.send(frame));
        ws.subscribed = true;
      }
    });
  }
}
