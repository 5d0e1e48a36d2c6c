/**
 * Live meters of the running flows: how late their captions arrive. For each flow that is
 * `starting` or `live`, one caption connection to its source-language channel (with a
 * viewer token the dashboard mints, and a fresh one before it expires); the latency is now
 * minus the message's `start_epoch`, the wall-clock time its first word reached the server.
 * @module
 */

import { CaptionClient, sameServerSocketUrl } from '../captioncast.mjs';

const RUNNING = new Set(['starting', 'live']);
const QUIET_AFTER = 10; // seconds without a message before the meter says so

/**
 * @typedef {{flow_id: string, stream_name: string, status: string,
 *   channels: {name: string, service_type: string}[]}} FlowLike
 * @typedef {{client: CaptionClient, words: number | null, blocks: number | null,
 *   last: number, state: string, error: string | null}} Meter
 */

export class LatencyMeters {
  /** @type {Map<string, Meter>} */ #meters = new Map();

  /**
   * @param {(streams: string[]) => Promise<string>} mintToken a viewer token for streams
   * @param {(flowId: string) => void} onChange a meter has news
   */
  constructor(mintToken, onChange) {
    this.mintToken = mintToken;
    this.onChange = onChange;
  }

  /** Keep one meter per running flow. @param {FlowLike[]} flows */
  follow(flows) {
    const running = new Map(flows.filter((f) => RUNNING.has(f.status)).map((f) => [f.flow_id, f]));
    for (const [id, meter] of this.#meters) {
      if (!running.has(id)) {
        meter.client.close();
        this.#meters.delete(id);
      }
    }
    for (const [id, flow] of running) if (!this.#meters.has(id)) this.#open(flow);
  }

  /** @param {FlowLike} flow */
  #open(flow) {
    const channel = flow.channels.find((c) => c.service_type === 'transcription') ?? flow.channels[0];
    if (!channel) return;
    const client = new CaptionClient({
      url: sameServerSocketUrl(location.href),
      channel: channel.name,
      token: () => this.mintToken([flow.stream_name]),
    });
    /** @type {Meter} */
    const meter = { client, words: null, blocks: null, last: 0, state: 'connecting', error: null };
    client.on('caption', (caption) => {
      if (typeof caption.startEpoch !== 'number' || caption.isEndOfStream) return;
      const latency = Date.now() / 1000 - caption.startEpoch;
      if (caption.type === 'captions') meter.blocks = latency;
      else meter.words = latency;
      meter.last = Date.now() / 1000;
      this.onChange(flow.flow_id);
    });
    client.on('state', ({ state }) => {
      meter.state = state;
      this.onChange(flow.flow_id);
    });
    client.on('error', (error) => {
      meter.error = error.message;
      this.onChange(flow.flow_id);
    });
    this.#meters.set(flow.flow_id, meter);
  }

  /** The meter in words, for a table cell. @param {string} flowId */
  describe(flowId) {
    const meter = this.#meters.get(flowId);
    if (!meter) return '—';
    if (meter.error) return meter.error;
    if (meter.words === null && meter.blocks === null) {
      return meter.state === 'live' ? 'waiting for captions' : `captions ${meter.state}`;
    }
    const parts = [];
    if (meter.words !== null) parts.push(`words ${meter.words.toFixed(1)} s`);
    if (meter.blocks !== null) parts.push(`blocks ${meter.blocks.toFixed(1)} s`);
    const quiet = Date.now() / 1000 - meter.last;
    if (quiet > QUIET_AFTER) parts.push(`quiet ${Math.round(quiet)} s`);
    return parts.join(' · ');
  }

  closeAll() {
    for (const meter of this.#meters.values()) meter.client.close();
    this.#meters.clear();
  }
}
