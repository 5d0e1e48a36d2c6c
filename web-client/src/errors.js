/**
 * Why captions stopped, in words a viewer can act on.
 *
 * The SDK reports a failed subscription as a `SubscribeError` with the WebSocket close code
 * and reason (docs/protocol.md#close-codes); `CaptionError` adds the channel and a message
 * meant for the page, and keeps `code` and `reason` for programs.
 * @module
 */

export class CaptionError extends Error {
  /**
   * @param {number | null} code the close code, or null when no connection could be made
   * @param {string} reason the server's close reason, e.g. `token_expired`
   * @param {string} channel
   */
  constructor(code, reason, channel) {
    super(describeClose(code, reason, channel));
    this.name = 'CaptionError';
    this.code = code;
    this.reason = reason;
    this.channel = channel;
  }
}

/**
 * A sentence for the viewer about a close code and reason.
 * @param {number | null} code
 * @param {string} reason
 * @param {string} channel
 */
export function describeClose(code, reason, channel) {
  switch (code) {
    case 4001:
      if (reason === 'token_expired') return 'The viewer token has expired: captions stopped. Reload with a new link.';
      if (reason === 'token_not_yet_valid') return 'The viewer token is not valid yet.';
      return `The viewer token was refused (${reason || 'invalid'}).`;
    case 4003:
      if (reason === 'origin_not_allowed') return 'The viewer token may not be used on this website.';
      return `The viewer token does not allow the captions of ${streamOf(channel)}.`;
    case 4004:
      return `There is no caption channel named ${channel}.`;
    case 4009:
      return 'Too many caption channels are open on one connection.';
    case 4002:
    case 1009:
      return `The caption connection was refused: ${reason || 'bad message'}.`;
    case null:
      return `Cannot reach the caption server (${reason || 'connection failed'}).`;
    default:
      return `Captions stopped (${code}${reason ? ` ${reason}` : ''}).`;
  }
}

/** A caption channel's stream name (`news-en-de` → `news`; stream names have no hyphen).
 * @param {string} channel */
export function streamOf(channel) {
  return channel.split('-')[0];
}
