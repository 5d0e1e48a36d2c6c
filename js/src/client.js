/**
 * `CaptionCast`: the REST API (docs/api.md) with `fetch`, and subscriptions to channels.
 * @module
 */

import { ApiError } from './errors.js';
import { Subscription } from './subscription.js';

/**
 * @typedef {import('./subscription.js').TokenOption} TokenOption
 * @typedef {import('./subscription.js').SubscriptionOptions} SubscriptionOptions
 * @typedef {import('./viewer.js').StreamPosition} StreamPosition
 *
 * @typedef {object} Flow the flow object of docs/api.md, as the server sends it
 * @property {string} flow_id
 * @property {string} name
 * @property {string} stream_name
 * @property {'rtmp_push' | 'srt_push' | 'url_pull'} source
 * @property {string} status `created`, `starting`, `live`, `stopping`, `ended` or `error`
 * @property {string | null} error
 * @property {string} source_language
 * @property {string[]} target_languages
 * @property {{url: string, stream_key: string, full_url: string} | null} rtmp_details
 * @property {{host: string, port: number, passphrase: string, streamid: string,
 *   full_url: string} | null} srt_details
 * @property {{name: string, language: string, service_type: string}[]} channels
 *
 * @typedef {object} FlowOptions what `createFlow` takes (camelCase or the API's snake_case)
 * @property {string} name also the stream name: letters, digits, `_`
 * @property {'rtmp_push' | 'srt_push' | 'url_pull'} [source] default `rtmp_push`
 * @property {string} [url] what a `url_pull` flow reads
 * @property {string} [sourceLanguage] default `en`
 * @property {string[]} [targetLanguages] translations
 * @property {number} [maxLatency] seconds, 1–60 (default 5)
 * @property {{maxCharsPerLine?: number, maxLines?: number, max_chars_per_line?: number,
 *   max_lines?: number}} [caption] caption block shape (default 37 characters, 2 lines)
 * @property {string} [model] an ASR model name (default: the server's)
 * @property {'websocket'} [output] the only output: every flow is delivered over WebSocket
 *
 * @typedef {{token: string, expires_at: string, kid: string}} Token
 */

/** Where a server is when no `url` is given: this page's origin, or the default port. */
function defaultUrl() {
  const origin = globalThis.location?.origin;
  return origin && origin.startsWith('http') ? origin : 'http://127.0.0.1:8080';
}

/** @param {string | Flow} flow */
function flowPath(flow) {
  const id = typeof flow === 'string' ? flow : flow.flow_id;
  return `/v1/flows/${encodeURIComponent(id)}`;
}

export class CaptionCast {
  /**
   * @param {string | null | undefined} apiKey the management API key; null in a browser that only
   *   subscribes with viewer tokens
   * @param {{url?: string, fetch?: typeof fetch, WebSocket?: typeof WebSocket}} [options]
   */
  constructor(apiKey, options = {}) {
    this.apiKey = apiKey;
    this.url = (options.url ?? defaultUrl()).replace(/\/+$/, '');
    this.wsUrl = `${this.url.replace(/^http/, 'ws')}/v1/ws`;
    this.fetch = options.fetch ?? globalThis.fetch.bind(globalThis);
    this.WebSocket = options.WebSocket;
  }

  /**
   * Create a flow (`created`).
   * @param {FlowOptions & Record<string, any>} options
   * @returns {Promise<Flow>}
   */
  createFlow(options) {
    const o = options;
    if ((o.output ?? 'websocket') !== 'websocket') {
      throw new TypeError(`output: only 'websocket' is supported, not ${JSON.stringify(o.output)}`);
    }
    const caption = o.caption && {
      max_chars_per_line: o.caption.maxCharsPerLine ?? o.caption.max_chars_per_line,
      max_lines: o.caption.maxLines ?? o.caption.max_lines,
    };
    const body = {
      name: o.name,
      source: o.source ?? 'rtmp_push',
      url: o.url,
      source_language: o.sourceLanguage ?? o.source_language ?? 'en',
      target_languages: o.targetLanguages ?? o.target_languages ?? [],
      max_latency: o.maxLatency ?? o.max_latency,
      caption: caption && JSON.parse(JSON.stringify(caption)), // drops what is undefined
      model: o.model,
    };
    return this.#request('POST', '/v1/flows', body);
  }

  /** Start accepting the publisher: `starting`, then `live` when media arrives.
   * @param {string | Flow} flow @returns {Promise<Flow>} */
  startFlow(flow) {
    return this.#request('POST', `${flowPath(flow)}/start`);
  }

  /** Flush, send the end of stream on every channel, and end the flow (`ended`).
   * @param {string | Flow} flow @returns {Promise<Flow>} */
  stopFlow(flow) {
    return this.#request('POST', `${flowPath(flow)}/stop`);
  }

  /** @param {string | Flow} flow @returns {Promise<Flow>} */
  getFlow(flow) {
    return this.#request('GET', flowPath(flow));
  }

  /** Every flow, oldest first. @returns {Promise<Flow[]>} */
  async listFlows() {
    return (await this.#request('GET', '/v1/flows')).flows;
  }

  /** Delete a flow (stopping it first if it runs); its channels close.
   * @param {string | Flow} flow @returns {Promise<void>} */
  async deleteFlow(flow) {
    await this.#request('DELETE', flowPath(flow));
  }

  /**
   * A viewer token for `streams` (stream names = flow names), valid `ttl` seconds (server
   * default: one hour), usable from `origins` only when given.
   * @param {{streams: string[], ttl?: number, origins?: string[]}} options
   * @returns {Promise<Token>}
   */
  createToken({ streams, ttl, origins }) {
    return this.#request('POST', '/v1/tokens', { streams, ttl, origins });
  }

  /**
   * The flow's final captions so far: the JSON object for `json`, else the text of the
   * WebVTT, SubRip or plain-text file.
   * @param {string | Flow} flow
   * @param {{language?: string, format?: 'json' | 'vtt' | 'srt' | 'txt'}} [options]
   */
  transcript(flow, { language, format = 'json' } = {}) {
    const query = new URLSearchParams({ format, ...(language ? { language } : {}) });
    return this.#request('GET', `${flowPath(flow)}/transcript?${query}`, undefined, format);
  }

  /**
   * Subscribe to a channel: `channel` by name, or `flowId` (+ `language`, default the
   * source language; needs the API key). Without `token` the client mints one with its API
   * key and a fresh one before each expires; in a browser pass a viewer token, or a
   * function that fetches one from your backend (then it is refreshed too).
   * @param {Omit<SubscriptionOptions, 'url' | 'channel' | 'token'> & {channel?: string,
   *   flowId?: string, language?: string, token?: TokenOption, tokenTtl?: number}} options
   * @returns {Subscription}
   */
  subscribe(options) {
    const { flowId, language, tokenTtl, ...rest } = options;
    if (!options.channel && !flowId) throw new TypeError('subscribe needs a channel or a flowId');
    if (!options.token && !this.apiKey) {
      throw new TypeError('subscribe needs a viewer token when the client has no API key');
    }
    const channel = options.channel
      ? Promise.resolve(options.channel)
      : this.getFlow(/** @type {string} */ (flowId)).then((flow) => channelOf(flow, language));
    const token = options.token ?? (async () => {
      const stream = (await channel).split('-')[0]; // stream names have no hyphen
      return (await this.createToken({ streams: [stream], ttl: tokenTtl })).token;
    });
    return new Subscription({
      WebSocket: this.WebSocket, ...rest, url: this.wsUrl, channel, token,
    });
  }

  /**
   * @param {string} method @param {string} path @param {object} [body]
   * @param {string} [format] `json` (default) or a text format
   * @returns {Promise<any>}
   */
  async #request(method, path, body, format = 'json') {
    /** @type {Record<string, string>} */
    const headers = {};
    if (this.apiKey) headers.Authorization = `Bearer ${this.apiKey}`;
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const response = await this.fetch(`${this.url}${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (!response.ok) throw await apiError(response);
    if (response.status === 204) return undefined;
    return format === 'json' ? response.json() : response.text();
  }
}

/** @param {Flow} flow @param {string} [language] */
function channelOf(flow, language) {
  const wanted = language ?? flow.source_language;
  const found = flow.channels.find((c) => c.language === wanted);
  if (!found) throw new TypeError(`flow ${flow.name} has no language ${wanted}`);
  return found.name;
}

/** @param {Response} response */
async function apiError(response) {
  const text = await response.text();
  try {
    const { code, message } = JSON.parse(text).error;
    return new ApiError(response.status, String(code), String(message));
  } catch {
    return new ApiError(response.status, 'http_error', text.slice(0, 200) || 'no body');
  }
}
