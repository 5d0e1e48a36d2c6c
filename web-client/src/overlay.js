/**
 * `CaptionOverlay`: captions written into an element of the page.
 *
 * The element gets the class `cc-overlay` (styled by captioncast.css) and
 * `aria-live="polite"`; each line is a child `div.cc-line`. Lines still being recognized
 * (a partial's words) get `cc-partial` and `aria-hidden="true"`, so a screen reader reads
 * each line once, when its words are final, not every guess before.
 *
 * What to show comes from a `CaptionView`; the overlay re-renders on every caption and on a
 * timer (to clear old text, and in sync mode to reveal words as the video reaches them).
 * A `sink` may take the lines instead of the element (NanoMessenger's `receiveMessage`).
 * @module
 */

import { CaptionView } from './caption-view.js';

/**
 * @typedef {import('./caption-view.js').Line} Line
 * @typedef {import('./caption-view.js').ViewOptions} ViewOptions
 * @typedef {import('../../js/src/viewer.js').Caption} Caption
 *
 * @typedef {ViewOptions & {
 *   fontScale?: number,
 *   playhead?: (() => number | null) | null,
 *   sink?: ((lines: Line[]) => void) | null,
 *   tickMs?: number,
 * }} OverlayOptions `fontScale`: caption size relative to the stylesheet's (1);
 *   `playhead`: sync mode, the flow time on screen (null while unknown: shown live);
 *   `sink`: receives the lines instead of the element; `tickMs`: re-render period (250)
 */

export const FONT_SCALE_RANGE = Object.freeze([0.5, 3]);

export class CaptionOverlay {
  /** @type {HTMLElement | null} */ #element = null;
  /** @type {string | HTMLElement | null} */ #target;
  /** @type {ReturnType<typeof setInterval> | undefined} */ #timer;
  #shown = '';
  #fontScale = 1;

  /**
   * @param {string | HTMLElement | null} target the element, or its id (found when first
   *   needed, so it may be created after the overlay)
   * @param {OverlayOptions} [options]
   */
  constructor(target, options = {}) {
    this.#target = target;
    this.view = new CaptionView(options);
    /** @type {(() => number | null) | null} */
    this.playhead = options.playhead ?? null;
    /** @type {((lines: Line[]) => void) | null} */
    this.sink = options.sink ?? null;
    this.tickMs = options.tickMs ?? 250;
    if (options.fontScale !== undefined) this.fontScale = options.fontScale;
  }

  /** The overlay element, once it exists in the page. */
  get element() {
    if (!this.#element && this.#target) {
      const found = typeof this.#target === 'string'
        ? globalThis.document?.getElementById(this.#target) ?? null
        : this.#target;
      if (found) this.#prepare(found);
    }
    return this.#element;
  }

  get mode() {
    return this.view.options.mode;
  }

  /** @param {'rollup' | 'popon'} mode */
  set mode(mode) {
    this.view.options.mode = mode;
    this.render();
  }

  get fontScale() {
    return this.#fontScale;
  }

  /** @param {number} scale */
  set fontScale(scale) {
    const [low, high] = FONT_SCALE_RANGE;
    this.#fontScale = Math.min(high, Math.max(low, Number(scale) || 1));
    this.element?.style.setProperty('--cc-font-scale', String(this.#fontScale));
  }

  /**
   * Show a caption (and keep re-rendering while there is text to reveal or clear).
   * @param {Caption} caption
   */
  apply(caption) {
    this.view.apply(caption, Date.now() / 1000);
    if (caption.language) this.element?.setAttribute('lang', caption.language);
    this.render();
    this.#startTimer();
  }

  /** Re-render from the view at `now` (wall-clock seconds). */
  render(now = Date.now() / 1000) {
    const playhead = this.playhead ? this.playhead() : null;
    this.show(this.view.lines(now, playhead));
  }

  /**
   * Show these lines (through the sink when there is one); nothing happens when they are the
   * lines already shown.
   * @param {Line[]} lines
   */
  show(lines) {
    const key = JSON.stringify(lines);
    if (key === this.#shown) return;
    this.#shown = key;
    if (this.sink) this.sink(lines);
    else this.write(lines);
  }

  /**
   * Write lines into the element, reusing its line elements.
   * @param {Line[]} lines
   */
  write(lines) {
    const element = this.element;
    if (!element) return;
    const children = [...element.children];
    lines.forEach((line, i) => {
      let child = children[i];
      if (!child) {
        child = element.ownerDocument.createElement('div');
        child.className = 'cc-line';
        child.setAttribute('dir', 'auto');
        element.appendChild(child);
      }
      if (child.textContent !== line.text) child.textContent = line.text;
      child.classList.toggle('cc-partial', !line.final);
      if (line.final) child.removeAttribute('aria-hidden');
      else child.setAttribute('aria-hidden', 'true');
    });
    for (const extra of children.slice(lines.length)) extra.remove();
    element.classList.toggle('cc-empty', lines.length === 0);
  }

  /** Empty the overlay and forget its captions (e.g. another language was chosen). */
  clear() {
    this.view.reset();
    this.show([]);
  }

  /** Stop the timer; the element keeps what it shows. */
  destroy() {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  #startTimer() {
    if (this.#timer !== undefined || !this.tickMs) return;
    this.#timer = setInterval(() => this.render(), this.tickMs);
  }

  /** @param {HTMLElement} element */
  #prepare(element) {
    this.#element = element;
    if (element.children.length === 0) element.textContent = ''; // placeholder text goes
    element.classList.add('cc-overlay');
    if (!element.hasAttribute('aria-live')) element.setAttribute('aria-live', 'polite');
    element.setAttribute('aria-atomic', 'false');
    element.classList.toggle('cc-empty', element.children.length === 0);
    element.style.setProperty('--cc-font-scale', String(this.#fontScale));
  }
}
