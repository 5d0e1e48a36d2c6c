/**
 * The WebSocket implementation: the platform's where there is one (browsers, Deno, Node 22
 * and later), else the `ws` package (Node 18 and 20). Bundlers for the browser leave `ws`
 * out (`"browser": {"ws": false}` in package.json).
 * @module
 */

/** @type {Promise<typeof WebSocket> | null} */
let loaded = null;

/** @returns {Promise<typeof WebSocket>} */
export function webSocketClass() {
  if (typeof globalThis.WebSocket === 'function') return Promise.resolve(globalThis.WebSocket);
  loaded ??= import('ws').then((module) => /** @type {any} */ (module.default ?? module.WebSocket));
  return loaded;
}
