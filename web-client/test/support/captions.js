// Caption messages as the server sends them, parsed the way the SDK hands them over.
import { parseCaption } from '../../../js/src/viewer.js';

/**
 * @param {number} seq
 * @param {string} text words separated by spaces; a trailing `,` `.` `?` becomes a punct item
 * @param {{type?: string, final?: boolean, start?: number, step?: number, lines?: string[],
 *   end?: boolean, items?: boolean, language?: string}} [options]
 */
export function caption(seq, text, options = {}) {
  const { type = 'transcript', final = true, start = 0, step = 0.5, lines, end = false } = options;
  const items = [];
  text.split(' ').filter(Boolean).forEach((word, i) => {
    const t = start + i * step;
    const match = /^(.*?)([,.?!]+)$/.exec(word);
    items.push({ start: t, end: t + step, kind: 'text', value: match ? match[1] : word, speaker_id: 's' });
    if (match) items.push({ start: t + step, end: t + step, kind: 'punct', value: match[2], speaker_id: 's' });
  });
  const last = items.length ? items[items.length - 1].end : start;
  return parseCaption({
    seq,
    epoch: 'e1',
    channel: 'demo-en-en',
    response: {
      id: `r${seq}`, type, service_type: 'transcription', language_code: options.language ?? 'en',
      start, end: last, start_pts: null, start_epoch: 1000 + start, sei_timestamp: null,
      is_final: final, is_end_of_stream: end, speakers: [],
      alternatives: [{
        transcript: text, start, end: last, start_pts: null, start_epoch: 1000 + start,
        ...(lines ? { lines } : {}), items: options.items === false ? [] : items,
      }],
    },
  });
}
