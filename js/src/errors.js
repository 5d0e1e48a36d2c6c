/**
 * What the SDK throws.
 *
 *     Error
 *     ├── ApiError        the REST API refused a request: status, code, message from its
 *     │                   JSON error body (docs/api.md#errors)
 *     └── SubscribeError  the WebSocket server refused a subscription: code (the close code,
 *                         or null) and reason
 *
 * Network failures of REST calls come through as fetch's own TypeError; a subscription rides
 * them out by reconnecting.
 * @module
 */

export class ApiError extends Error {
  /**
   * @param {number} status HTTP status
   * @param {string} code e.g. `flow_not_found`, `invalid_request`
   * @param {string} message
   */
  constructor(status, code, message) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
  }
}

export class SubscribeError extends Error {
  /**
   * @param {number | null} code the WebSocket close code (docs/protocol.md#close-codes)
   * @param {string} reason
   */
  constructor(code, reason) {
    super(code ? `closed with ${code}: ${reason}` : reason);
    this.name = 'SubscribeError';
    this.code = code;
    this.reason = reason;
  }
}
