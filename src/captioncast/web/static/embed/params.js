/**
 * The embed player's query parameters: nanoStream's names, and a few of captioncast's own.
 *
 * | parameter | |
 * |---|---|
 * | `group.id` | the stream name (a flow's name) |
 * | `caption.channel` | the caption channel shown first, e.g. `news-en-de` |
 * | `caption.token` | the viewer token for the captions |
 * | `group.security.jwtoken` | the viewer token for the video (the same token works for both) |
 * | `caption.mode` | `rollup` (default: word by word) or `popon` (whole caption blocks) |
 * | `caption.sync` | `1` (default): captions with the video's words; `0`: as they arrive |
 * | `caption.size` | caption size, 0.5–3 (default 1) |
 * | `caption.lines` | lines shown, 1–4 (default 2) |
 * @module
 */

import { decodeJwt } from '../common/jwt.js';

/**
 * @typedef {object} PlayerParams
 * @property {string | null} stream
 * @property {string | null} channel
 * @property {string | null} videoToken
 * @property {string | null} captionToken
 * @property {'rollup' | 'popon'} mode
 * @property {boolean} sync
 * @property {number} fontScale
 * @property {number} maxLines
 * @property {string[]} problems what is missing, in words; the player cannot start without
 */

/** @param {string} search `location.search` @returns {PlayerParams} */
export function playerParams(search) {
  const query = new URLSearchParams(search);
  const get = (/** @type {string} */ name) => query.get(name)?.trim() || null;
  const channel = get('caption.channel');
  const stream = get('group.id') ?? (channel ? channel.split('-')[0] : null);
  const videoToken = get('group.security.jwtoken') ?? get('caption.token');
  const captionToken = get('caption.token') ?? videoToken;
  const problems = [];
  if (!stream) problems.push('The link has no stream name (group.id).');
  if (!videoToken) problems.push('The link has no viewer token (caption.token or group.security.jwtoken).');
  if (stream && channel && !channel.startsWith(`${stream}-`)) {
    problems.push(`The caption channel ${channel} is not one of the stream ${stream}.`);
  }
  return {
    stream,
    channel,
    videoToken,
    captionToken,
    mode: get('caption.mode') === 'popon' ? 'popon' : 'rollup',
    sync: !['0', 'false', 'off', 'no'].includes(get('caption.sync') ?? ''),
    fontScale: clamp(Number(get('caption.size') ?? 1), 0.5, 3, 1),
    maxLines: Math.round(clamp(Number(get('caption.lines') ?? 2), 1, 4, 2)),
    problems,
  };
}

/**
 * The caption channels of a stream from its HLS subtitle languages (the master playlist
 * lists the source language first): `[{language, channel}]`, the current channel included
 * even when the playlist does not list its language.
 * @param {string} stream
 * @param {string[]} languages
 * @param {string | null} current
 * @returns {{language: string, channel: string}[]}
 */
export function captionChannels(stream, languages, current) {
  const source = languages.find((l) => current?.startsWith(`${stream}-${l}-`)) ?? languages[0];
  const channels = source
    ? languages.map((language) => ({ language, channel: `${stream}-${source}-${language}` }))
    : [];
  if (current && !channels.some((c) => c.channel === current)) {
    const language = source && current.startsWith(`${stream}-${source}-`)
      ? current.slice(stream.length + source.length + 2)
      : current.slice(stream.length + 1);
    channels.push({ language, channel: current });
  }
  return channels;
}

/** @param {number} value @param {number} low @param {number} high @param {number} fallback */
function clamp(value, low, high, fallback) {
  return Number.isFinite(value) ? Math.min(high, Math.max(low, value)) : fallback;
}

/**
 * When a token expires (Unix seconds), read without checking it; null when unknown.
 * @param {string | null} token
 */
export function tokenExpiry(token) {
  const exp = decodeJwt(token)?.claims.exp;
  return typeof exp === 'number' ? exp : null;
}
