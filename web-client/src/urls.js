/**
 * Where the caption WebSocket is, from what a page knows: a host and port (NanoMessenger's
 * arguments), a server URL, or the page's own location.
 * @module
 */

export const SOCKET_PATH = '/v1/ws';

/**
 * The `ws(s)://` URL of a server's caption endpoint.
 *
 * `server` is a host name (`captions.example.com`), or a URL (`https://captions.example.com`,
 * `ws://127.0.0.1:8080/v1/ws`) whose scheme decides. For a host name the connection is
 * secure (`wss:`) on port 443, when `secure` says so, or when the page itself is `https:`
 * (a secure page may not open a plain WebSocket).
 * @param {string} server
 * @param {number | string | null} [port]
 * @param {{secure?: boolean, path?: string, pageProtocol?: string}} [options]
 */
export function socketUrl(server, port = null, options = {}) {
  const path = options.path ?? SOCKET_PATH;
  const pageProtocol = options.pageProtocol ?? globalThis.location?.protocol ?? 'http:';
  if (server.includes('://')) {
    const url = new URL(server);
    url.protocol = url.protocol.replace(/^http/, 'ws');
    if (port !== null && port !== undefined && port !== '') url.port = String(port);
    if (url.pathname === '/' || url.pathname === '') url.pathname = path;
    return url.href;
  }
  const number = port === null || port === undefined || port === '' ? null : Number(port);
  const secure = options.secure ?? (number === 443 || pageProtocol === 'https:');
  const url = new URL(`${secure ? 'wss' : 'ws'}://${server}`);
  if (number !== null) url.port = String(number);
  url.pathname = path;
  return url.href;
}

/**
 * The caption endpoint of the server that served `pageUrl` (the embed player and the
 * dashboard live on it): `http://h:p/any/page` → `ws://h:p/v1/ws`.
 * @param {string} pageUrl
 */
export function sameServerSocketUrl(pageUrl) {
  const url = new URL(SOCKET_PATH, pageUrl);
  url.protocol = url.protocol.replace(/^http/, 'ws');
  return url.href;
}
