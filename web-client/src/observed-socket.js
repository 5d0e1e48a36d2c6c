/**
 * A WebSocket class that also tells a listener about each frame and close, ahead of the
 * code that owns the socket: how `CaptionClient` learns that the SDK's `Subscription` lost
 * its connection (it reports subscriptions, captions and failures, not drops).
 * @module
 */

/**
 * @param {typeof WebSocket} Base
 * @param {{frame?: (data: unknown) => void, close?: (event: CloseEvent) => void}} hooks
 * @returns {typeof WebSocket}
 */
export function observedWebSocket(Base, hooks) {
  return class ObservedWebSocket extends Base {
    /** @param {ConstructorParameters<typeof WebSocket>} args */
    constructor(...args) {
      super(...args);
      // Registered before the owner sets onmessage/onclose, so these run first.
      this.addEventListener('message', (event) => hooks.frame?.(event.data));
      this.addEventListener('close', (event) => hooks.close?.(/** @type {CloseEvent} */ (event)));
    }
  };
}
