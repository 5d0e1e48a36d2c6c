/**
 * What a caption overlay shows, as a plain state machine: captions in (`apply`), lines out
 * (`lines`). No DOM, no timers; the time is an argument.
 *
 * Two modes:
 * - `rollup`: the running transcript, word by word. Final transcripts commit words; the
 *   newest partial shows the words after them until the next partial or final replaces it.
 *   Lines fill up to `maxCharsPerLine` and scroll up; the last `maxLines` are shown.
 * - `popon`: the newest caption block (`type: 'captions'`), its lines as the server broke
 *   them.
 *
 * With a playhead (sync mode: the flow time the video is showing) only the words and blocks
 * that start at or before it are shown, so captions appear with their words.
 *
 * Captions are the SDK's parsed messages (js/src/viewer.js `parseCaption`): `seq`, `type`,
 * `isFinal`, `isEndOfStream`, `start`, `end`, `text`, `lines` and the raw `response`.
 * @module
 */

/**
 * @typedef {import('../../js/src/viewer.js').Caption} Caption
 * @typedef {{text: string, final: boolean}} Line one overlay line; `final` when every word
 *   on it is committed (a partial's words may still change)
 * @typedef {{text: string, start: number, end: number, final: boolean}} Word
 * @typedef {{start: number, end: number, lines: string[], arrived: number}} Block
 *
 * @typedef {object} ViewOptions
 * @property {'rollup' | 'popon'} [mode] default `rollup`
 * @property {number} [maxLines] lines shown (default 2)
 * @property {number} [maxCharsPerLine] roll-up line width (default 42)
 * @property {number} [clearAfter] seconds without new words before the overlay empties
 *   (default 8; 0 never)
 */

export const VIEW_DEFAULTS = Object.freeze({
  mode: /** @type {'rollup' | 'popon'} */ ('rollup'),
  maxLines: 2,
  maxCharsPerLine: 42,
  clearAfter: 8,
});

const KEEP_WORDS = 400; // committed words kept for roll-up; trimmed at a line start
const KEEP_BLOCKS = 32;

export class CaptionView {
  /** @param {ViewOptions} [options] */
  constructor(options = {}) {
    /** @type {Required<ViewOptions>} */
    this.options = { ...VIEW_DEFAULTS, ...definedOnly(options) };
    this.reset();
  }

  /** Forget every caption (a new channel, a new language). */
  reset() {
    /** @type {Word[]} */
    this.committed = [];
    /** @type {{seq: number, words: Word[]} | null} */
    this.partial = null;
    /** @type {Block[]} */
    this.blocks = [];
    /** Wall-clock seconds of the last change to the roll-up words. */
    this.updatedAt = -Infinity;
  }

  /**
   * Take one caption message.
   * @param {Caption} caption
   * @param {number} now wall-clock seconds
   */
  apply(caption, now) {
    if (caption.type === 'captions') {
      if (caption.lines.length && !caption.isEndOfStream) {
        this.blocks.push({ start: caption.start, end: caption.end, lines: caption.lines, arrived: now });
        if (this.blocks.length > KEEP_BLOCKS) this.blocks.splice(0, this.blocks.length - KEEP_BLOCKS);
      }
      return;
    }
    if (caption.isEndOfStream) {
      this.partial = null;
      return;
    }
    if (caption.isFinal) {
      this.committed.push(...captionWords(caption, true));
      if (this.partial && this.partial.seq < caption.seq) this.partial = null;
      this.#trim();
    } else if (!this.partial || this.partial.seq < caption.seq) {
      this.partial = { seq: caption.seq, words: captionWords(caption, false) };
    }
    this.updatedAt = now;
  }

  /**
   * The lines to show now.
   * @param {number} now wall-clock seconds
   * @param {number | null} [playhead] the flow time on screen (sync mode), or null (live)
   * @returns {Line[]}
   */
  lines(now, playhead = null) {
    return this.options.mode === 'popon' ? this.#popOn(now, playhead) : this.#rollUp(now, playhead);
  }

  /** @param {number} now @param {number | null} playhead @returns {Line[]} */
  #rollUp(now, playhead) {
    const limit = playhead ?? Infinity;
    const words = [...this.committed, ...(this.partial?.words ?? [])].filter((w) => w.start <= limit);
    const last = words[words.length - 1];
    if (!last || this.#expired(now, playhead, last.end, this.updatedAt)) return [];
    return wrapWords(words, this.options.maxCharsPerLine)
      .slice(-this.options.maxLines)
      .map((line) => ({ text: line.map((w) => w.text).join(' '), final: line.every((w) => w.final) }));
  }

  /** @param {number} now @param {number | null} playhead @returns {Line[]} */
  #popOn(now, playhead) {
    const limit = playhead ?? Infinity;
    let block = null;
    for (const candidate of this.blocks) if (candidate.start <= limit) block = candidate;
    if (!block || this.#expired(now, playhead, block.end, block.arrived)) return [];
    return block.lines.slice(-this.options.maxLines).map((text) => ({ text, final: true }));
  }

  /** Whether text that ended at flow time `end` (arrived at `arrived`) is old enough to go.
   * @param {number} now @param {number | null} playhead @param {number} end @param {number} arrived */
  #expired(now, playhead, end, arrived) {
    const { clearAfter } = this.options;
    if (!clearAfter) return false;
    return playhead === null ? now - arrived > clearAfter : playhead - end > clearAfter;
  }

  /** Drop the oldest committed words at a line start, so later lines wrap the same. */
  #trim() {
    if (this.committed.length <= KEEP_WORDS) return;
    let dropped = 0;
    for (const line of wrapWords(this.committed, this.options.maxCharsPerLine)) {
      if (dropped + line.length > this.committed.length - KEEP_WORDS / 2) break;
      dropped += line.length;
    }
    this.committed.splice(0, dropped);
  }
}

/**
 * A caption's words with their times: from its items (punctuation joined to the word before
 * it), or, when it has none (a translation may not), its text spread evenly over its span.
 * @param {Caption} caption
 * @param {boolean} final
 * @returns {Word[]}
 */
export function captionWords(caption, final) {
  const items = caption.response?.alternatives?.[0]?.items;
  /** @type {Word[]} */
  const words = [];
  if (Array.isArray(items) && items.length) {
    for (const item of items) {
      const value = String(item.value ?? '').trim();
      if (!value) continue;
      const previous = words[words.length - 1];
      if (item.kind === 'punct' && previous) {
        previous.text += value;
        previous.end = Math.max(previous.end, Number(item.end));
      } else {
        words.push({ text: value, start: Number(item.start), end: Number(item.end), final });
      }
    }
    return words;
  }
  const texts = caption.text.split(/\s+/).filter(Boolean);
  const step = texts.length ? (caption.end - caption.start) / texts.length : 0;
  return texts.map((text, i) => ({
    text,
    start: caption.start + i * step,
    end: caption.start + (i + 1) * step,
    final,
  }));
}

/**
 * Greedy line filling: each line takes words while they fit in `width` characters (a word
 * longer than a line gets a line of its own). Earlier lines never depend on later words.
 * @template {{text: string}} W
 * @param {W[]} words
 * @param {number} width
 * @returns {W[][]}
 */
export function wrapWords(words, width) {
  /** @type {W[][]} */
  const lines = [];
  let line = /** @type {W[]} */ ([]);
  let chars = 0;
  for (const word of words) {
    const needed = line.length ? chars + 1 + word.text.length : word.text.length;
    if (line.length && needed > width) {
      lines.push(line);
      line = [word];
      chars = word.text.length;
    } else {
      line.push(word);
      chars = needed;
    }
  }
  if (line.length) lines.push(line);
  return lines;
}

/** @param {Record<string, any>} options */
function definedOnly(options) {
  return Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined));
}
