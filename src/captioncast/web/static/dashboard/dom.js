/**
 * Small DOM helpers for the dashboard: elements from data (text only, never HTML), copy
 * buttons, announcements for screen readers.
 * @module
 */

/**
 * An element: `h('button', {type: 'button', onclick: f, 'aria-label': 'x'}, 'text', child)`.
 * Keys starting with `on` are listeners; `class` and attributes are set as given; children
 * are nodes or text (never parsed as HTML).
 * @param {string} tag
 * @param {Record<string, any>} [props]
 * @param {...(Node | string | number | null | undefined | false)} children
 * @returns {HTMLElement}
 */
export function h(tag, props = {}, ...children) {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on') && typeof value === 'function') {
      element.addEventListener(key.slice(2), value);
    } else if (key === 'hidden' || key === 'disabled' || key === 'readOnly') {
      /** @type {any} */ (element)[key] = Boolean(value);
    } else if (key === 'value') {
      /** @type {any} */ (element).value = value;
    } else {
      element.setAttribute(key, value === true ? '' : String(value));
    }
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    element.append(typeof child === 'object' ? child : String(child));
  }
  return element;
}

/** Say something to screen readers (and show it) in the page's status line.
 * @param {string} text */
export function announce(text) {
  const notice = document.getElementById('notice');
  if (!notice) return;
  notice.textContent = '';
  // a new text node each time, so the same words are read again
  requestAnimationFrame(() => { notice.textContent = text; });
}

/**
 * A read-only field with a Copy button: `label` names both for assistive technology.
 * @param {string} label e.g. `RTMP URL`
 * @param {string} value
 * @param {{multiline?: boolean, id?: string}} [options]
 */
export function copyField(label, value, options = {}) {
  const id = options.id ?? uniqueId('field');
  const field = options.multiline
    ? h('textarea', { id, readOnly: true, rows: String(Math.min(14, value.split('\n').length + 1)), spellcheck: 'false' })
    : h('input', { id, type: 'text', readOnly: true, spellcheck: 'false' });
  /** @type {HTMLInputElement} */ (field).value = value;
  const button = h('button', {
    type: 'button',
    class: 'copy',
    'aria-label': `Copy ${label}`,
    onclick: () => copyText(value, /** @type {HTMLInputElement} */ (field)).then(
      () => announce(`${label} copied`),
      () => announce(`Could not copy: select the ${label} and copy it by hand`),
    ),
  }, 'Copy');
  return h('div', { class: 'copy-field' }, h('label', { for: id }, label), h('div', { class: 'copy-row' }, field, button));
}

/**
 * Put text on the clipboard: the Clipboard API where the page may use it (https, localhost),
 * else selecting the field and the copy command.
 * @param {string} text @param {HTMLInputElement | HTMLTextAreaElement} field
 */
export async function copyText(text, field) {
  if (navigator.clipboard && globalThis.isSecureContext) {
    await navigator.clipboard.writeText(text);
    return;
  }
  field.focus();
  field.select();
  if (!document.execCommand('copy')) throw new Error('copy refused');
}

let counter = 0;

/** @param {string} prefix */
export function uniqueId(prefix) {
  counter += 1;
  return `${prefix}-${counter}`;
}
