/**
 * The "New flow" form's fields as a `POST /v1/flows` body (docs/api.md#flows). The server
 * checks every rule; this only shapes the values.
 * @module
 */

/**
 * @param {Record<string, string>} fields the form's values by input name
 * @returns {Record<string, any>}
 */
export function flowRequest(fields) {
  const source = fields.source || 'rtmp_push';
  /** @type {Record<string, any>} */
  const body = {
    name: (fields.name ?? '').trim(),
    source,
    source_language: (fields.source_language ?? '').trim() || 'en',
    target_languages: languageList(fields.target_languages ?? ''),
  };
  if (source === 'url_pull') body.url = (fields.url ?? '').trim();
  const latency = numberOrNull(fields.max_latency);
  if (latency !== null) body.max_latency = latency;
  const chars = numberOrNull(fields.max_chars_per_line);
  const lines = numberOrNull(fields.max_lines);
  if (chars !== null || lines !== null) {
    body.caption = {};
    if (chars !== null) body.caption.max_chars_per_line = Math.round(chars);
    if (lines !== null) body.caption.max_lines = Math.round(lines);
  }
  const model = (fields.model ?? '').trim();
  if (model) body.model = model;
  return body;
}

/** `"de, es-419  fr"` → `["de", "es-419", "fr"]` (repeats dropped).
 * @param {string} text */
export function languageList(text) {
  return [...new Set(text.split(/[\s,;]+/).map((l) => l.trim()).filter(Boolean))];
}

/** @param {string | undefined} value */
function numberOrNull(value) {
  if (value === undefined || value.trim() === '') return null;
  const number = Number(value);
  return Number.isFinite(number) ? number : null;
}
