/**
 * A JWT's header and claims, read without checking the signature: to show a token's
 * contents in the dashboard and to word a player's error. The server does the checking.
 * @module
 */

/**
 * @param {string | null | undefined} token
 * @returns {{header: Record<string, any>, claims: Record<string, any>} | null} null when
 *   it is not a JWT
 */
export function decodeJwt(token) {
  const parts = token?.split('.') ?? [];
  if (parts.length !== 3) return null;
  try {
    const [header, claims] = parts.slice(0, 2).map(decodePart);
    if (!isObject(header) || !isObject(claims)) return null;
    return { header, claims };
  } catch {
    return null;
  }
}

/** @param {string} part base64url JSON */
function decodePart(part) {
  const base64 = part.replace(/-/g, '+').replace(/_/g, '/');
  const padded = base64.padEnd(Math.ceil(base64.length / 4) * 4, '=');
  const bytes = Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
  return JSON.parse(new TextDecoder().decode(bytes));
}

/** @param {unknown} value @returns {value is Record<string, any>} */
function isObject(value) {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
