/**
 * What the dashboard offers to copy for a flow: the embed player's URL and iframe, a page
 * using the NanoMessenger script, the HLS playlist, and the player URL of each language.
 * Pure functions of the server's origin, the flow and a viewer token.
 * @module
 */

/**
 * @typedef {{stream_name: string, flow_id: string,
 *   channels: {name: string, language: string, service_type: string}[]}} FlowLike
 */

/**
 * The embed player's URL with nanoStream's parameters (the same token for both).
 * @param {string} origin e.g. `https://captions.example.com`
 * @param {{stream: string, channel: string, token: string}} options
 */
export function embedUrl(origin, { stream, channel, token }) {
  const query = new URLSearchParams({
    'group.id': stream,
    'caption.channel': channel,
    'caption.token': token,
    'group.security.jwtoken': token,
  });
  return `${origin}/embed/player.html?${query}`;
}

/** @param {string} url */
export function iframeSnippet(url) {
  return `<iframe src="${escapeAttribute(url)}" width="100%" height="480" `
    + 'allow="autoplay; fullscreen" allowfullscreen title="Live stream with captions"></iframe>';
}

/**
 * A page section that shows a channel's captions with the NanoMessenger script.
 * @param {string} origin
 * @param {{channel: string, token: string}} options
 */
export function scriptSnippet(origin, { channel, token }) {
  const url = new URL(origin);
  const port = url.port || (url.protocol === 'https:' ? '443' : '80');
  return [
    `<link rel="stylesheet" href="${origin}/static/captioncast.css">`,
    '<div style="position: relative; min-height: 8em">',
    '  <div id="caption-text"></div>',
    '</div>',
    `<script src="${origin}/static/captioncast.js"></script>`,
    '<script>',
    '  document.addEventListener("DOMContentLoaded", function () {',
    `    var messenger = new NanoMessenger(${JSON.stringify(url.hostname)}, ${port}, { overlayDiv: "caption-text" });`,
    `    messenger.connect(${JSON.stringify(token)}, null, ${JSON.stringify(channel)},`,
    '      function () { console.info("captions connected"); },',
    '      function (error) { messenger.receiveMessage({ user: "system", text: error.message }); });',
    '  });',
    '</script>',
  ].join('\n');
}

/**
 * The stream's HLS master playlist, with the token in the URL (for players that cannot send
 * it as a header; each language is a subtitle rendition in it).
 * @param {string} origin @param {string} stream @param {string} token
 */
export function hlsUrl(origin, stream, token) {
  return `${origin}/v1/hls/${encodeURIComponent(stream)}/master.m3u8?token=${encodeURIComponent(token)}`;
}

/**
 * Per language: its caption channel and the embed player showing it (the HLS master
 * playlist, `hlsUrl`, holds every language as a subtitle rendition).
 * @param {string} origin @param {FlowLike} flow @param {string} token
 */
export function playoutUrls(origin, flow, token) {
  return flow.channels.map((channel) => ({
    language: channel.language,
    channel: channel.name,
    player: embedUrl(origin, { stream: flow.stream_name, channel: channel.name, token }),
  }));
}

/** @param {string} text */
function escapeAttribute(text) {
  return text.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');
}
