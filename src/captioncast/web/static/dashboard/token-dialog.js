/**
 * The viewer token dialog: a token for the flow's stream with a lifetime and, optionally,
 * the websites it may be used from; the token is shown with its decoded header and claims,
 * and the page's snippets switch to it.
 * @module
 */

import { decodeJwt } from '../common/jwt.js';
import { copyField, h } from './dom.js';
import { languageList } from './flow-form.js';

/**
 * @typedef {{token: string, expires_at: string, kid: string}} Token
 * @typedef {{stream: string, create: (options: {ttl: number, origins?: string[]}) => Promise<Token>,
 *   created: (token: Token) => void, opener: HTMLElement}} Request
 */

export class TokenDialog {
  #dialog = /** @type {HTMLDialogElement} */ (document.getElementById('token-dialog'));
  #form = /** @type {HTMLFormElement} */ (document.getElementById('token-form'));
  #result = /** @type {HTMLElement} */ (document.getElementById('token-result'));
  /** @type {Request | null} */ #request = null;

  constructor() {
    this.#form.addEventListener('submit', (event) => {
      event.preventDefault();
      this.#create();
    });
    document.getElementById('token-close')?.addEventListener('click', () => this.#dialog.close());
    this.#dialog.addEventListener('close', () => this.#request?.opener.focus());
  }

  /** @param {Request} request */
  open(request) {
    this.#request = request;
    /** @type {HTMLElement} */ (document.getElementById('token-stream')).textContent =
      `For the stream ${request.stream}: the captions of every language and the video.`;
    this.#result.hidden = true;
    this.#result.replaceChildren();
    this.#dialog.showModal();
    /** @type {HTMLInputElement} */ (document.getElementById('token-ttl')).focus();
  }

  async #create() {
    const request = this.#request;
    if (!request) return;
    const fields = new FormData(this.#form);
    const origins = languageList(String(fields.get('origins') ?? '')); // the same list syntax
    /** @type {{ttl: number, origins?: string[]}} */
    const options = { ttl: Number(fields.get('ttl')) };
    if (origins.length) options.origins = origins;
    let token;
    try {
      token = await request.create(options);
    } catch (error) {
      this.#show([h('p', { class: 'alert', role: 'alert' }, /** @type {Error} */ (error).message)]);
      return;
    }
    request.created(token);
    const decoded = decodeJwt(token.token);
    this.#show([
      h('h3', {}, 'Token'),
      copyField('Viewer token', token.token, { id: 'new-token' }),
      h('p', {}, `Expires ${new Date(token.expires_at).toLocaleString()} · key ${token.kid}`),
      h('h3', {}, 'Decoded'),
      h('pre', { class: 'claims', 'aria-label': 'Decoded token header and claims' },
        JSON.stringify({ header: decoded?.header, claims: decoded?.claims }, null, 2)),
      h('p', { class: 'hint' }, 'The preview, the snippets and the player URLs on the page now use this token.'),
    ]);
  }

  /** @param {HTMLElement[]} children */
  #show(children) {
    this.#result.replaceChildren(...children);
    this.#result.hidden = false;
    /** @type {HTMLElement | null} */ (this.#result.querySelector('input, [role=alert]'))?.focus?.();
  }
}
