/**
 * `NanoMessenger`: the caption API of nanoStream's `nmessenger.js`, on captioncast.
 *
 *     const messenger = new NanoMessenger('captions.example.com', 443, { overlayDiv: 'caption-text' });
 *     messenger.connect(token, null, 'news-en-en', () => console.log('connected'),
 *                       (error) => console.error(error.message));
 *
 * As there, captions are written into the element whose id is `overlayDiv`, every change
 * goes through `receiveMessage({user, text})` (replace it to handle the text yourself, or
 * call it to show a message of your own), and the connection comes back by itself after a
 * drop. Here it also resumes where it stopped, so no caption is lost or shown twice.
 * `onError` is called when captions stop for good: an expired or refused token (4001), a
 * token for another stream or origin (4003), an unknown channel (4004); `error.code` is the
 * close code, `error.reason` the server's reason, `error.message` a sentence for viewers.
 * @module
 */

import { CaptionClient } from './caption-client.js';
import { CaptionOverlay } from './overlay.js';
import { socketUrl } from './urls.js';

/**
 * @typedef {import('./caption-view.js').Line} Line
 * @typedef {import('./errors.js').CaptionError} CaptionError
 * @typedef {import('./caption-client.js').ClientState} ClientState
 *
 * @typedef {import('./overlay.js').OverlayOptions & {
 *   overlayDiv?: string | HTMLElement,
 *   secure?: boolean,
 *   path?: string,
 *   maxBackoff?: number,
 *   onState?: (state: ClientState) => void,
 *   WebSocket?: typeof WebSocket,
 * }} MessengerOptions `overlayDiv`: the overlay element or its id; `secure`: force
 *   `wss:` (default: port 443 or an https page); `path`: the endpoint (`/v1/ws`);
 *   `maxBackoff`: longest wait between reconnections (ms); `onState`: connection states
 *
 * @typedef {{user: string | null, text: string, lines?: Line[], channel?: string}} Message
 */

export class NanoMessenger {
  /**
   * @param {string} server host name (or a URL) of the captioncast server
   * @param {number | string | null} port e.g. 443; null for the scheme's default
   * @param {MessengerOptions} [options]
   */
  constructor(server, port, options = {}) {
    this.server = server;
    this.port = port;
    this.options = options;
    /** @type {CaptionClient | null} */
    this.client = null;
    /** @type {string | null} */
    this.channel = null;
    /** @type {string | null} */
    this.user = null;
    this.overlay = new CaptionOverlay(options.overlayDiv ?? null, {
      ...options,
      sink: (lines) => this.receiveMessage({
        user: this.user,
        channel: this.channel ?? undefined,
        text: lines.map((line) => line.text).join('\n'),
        lines,
      }),
    });
  }

  /**
   * Connect to a caption channel (closing any earlier connection of this messenger).
   * @param {string | (() => Promise<string>)} token the viewer token (JWT), or a function
   *   that fetches a fresh one
   * @param {string | null} user an identifier of yours, passed back in each message
   * @param {string} channel `STREAM-SOURCE-TARGET`, e.g. `news-en-en`
   * @param {() => void} [onSuccess] the channel is subscribed (called once)
   * @param {(error: CaptionError) => void} [onError] captions stopped for good
   * @returns {this}
   */
  connect(token, user, channel, onSuccess, onError) {
    this.disconnect();
    this.user = user;
    this.channel = channel;
    const url = socketUrl(this.server, this.port, { secure: this.options.secure, path: this.options.path });
    const client = new CaptionClient({
      url, channel, token, maxBackoff: this.options.maxBackoff, WebSocket: this.options.WebSocket,
    });
    let succeeded = false;
    client.on('state', ({ state }) => {
      this.options.onState?.(state);
      if (state === 'live' && !succeeded) {
        succeeded = true;
        onSuccess?.();
      }
    });
    client.on('caption', (caption) => this.overlay.apply(caption));
    client.on('error', (error) => onError?.(error));
    this.client = client;
    return this;
  }

  /** Close the connection; the overlay keeps its text. */
  disconnect() {
    this.client?.close();
    this.client = null;
    this.overlay.destroy();
  }

  /**
   * Show a message in the overlay: the captions of the channel come through here, and a page
   * may call it with its own (`{user: 'system', text: 'Connecting…'}`). Lines are separated
   * by `\n`.
   * @param {Message} message
   */
  receiveMessage(message) {
    const lines = message.lines
      ?? String(message.text ?? '').split('\n').filter(Boolean).map((text) => ({ text, final: true }));
    this.overlay.write(lines);
  }
}
