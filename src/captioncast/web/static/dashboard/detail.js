/**
 * The selected flow: status and actions (start, stop, delete), where the publisher sends
 * to, its languages, a preview player with a language menu, a viewer token with the
 * snippets and playout URLs made from it, and the transcripts to download.
 *
 * The API has no call to change a flow; to change one, delete it and create it again.
 * @module
 */

import { announce, copyField, h, uniqueId } from './dom.js';
import { embedUrl, hlsUrl, iframeSnippet, playoutUrls, scriptSnippet } from './snippets.js';
import { TokenDialog } from './token-dialog.js';

const PREVIEW_TTL = 3600;
const CAN_START = new Set(['created', 'ended', 'error']);
const CAN_STOP = new Set(['starting', 'live']);
const FORMATS = [['vtt', 'WebVTT'], ['srt', 'SubRip'], ['txt', 'Text'], ['json', 'JSON']];

/**
 * @typedef {import('../js/src/client.js').CaptionCast} CaptionCast
 * @typedef {{api: () => CaptionCast, refresh: () => Promise<void>, fail: (error: unknown) => void}} Hooks
 */

export class FlowDetail {
  /** @type {any} */ #flow = null;
  /** @type {{token: string, expires_at: string} | null} */ #token = null;
  #section = /** @type {HTMLElement} */ (document.getElementById('detail'));
  #title = /** @type {HTMLElement} */ (document.getElementById('detail-title'));
  #body = /** @type {HTMLElement} */ (document.getElementById('detail-body'));
  #tokenDialog = new TokenDialog();

  /** @param {Hooks} hooks */
  constructor(hooks) {
    this.hooks = hooks;
  }

  /** @returns {string | null} */
  get flowId() {
    return this.#flow?.flow_id ?? null;
  }

  /** Show a flow (and move the focus to it when asked). @param {any} flow @param {boolean} focus */
  async open(flow, focus) {
    this.#flow = flow;
    this.#token = null;
    this.#title.textContent = `Flow ${flow.name}`;
    this.#body.replaceChildren(...this.#build(flow));
    this.#section.hidden = false;
    this.update(flow);
    if (focus) this.#title.focus();
    try {
      const token = await this.hooks.api().createToken({ streams: [flow.stream_name], ttl: PREVIEW_TTL });
      if (this.flowId === flow.flow_id) this.#useToken(token);
    } catch (error) {
      this.hooks.fail(error);
    }
  }

  /** The flow as the server now has it; null when it is gone. @param {any} flow */
  update(flow) {
    if (!this.#flow) return;
    if (!flow) {
      this.close();
      return;
    }
    this.#flow = flow;
    const status = this.#find('.status');
    status.textContent = flow.status;
    status.className = `status ${flow.status}`;
    this.#find('.flow-error').textContent = flow.error ? `Error: ${flow.error}` : '';
    /** @type {HTMLButtonElement} */ (this.#find('[data-action=start]')).disabled = !CAN_START.has(flow.status);
    /** @type {HTMLButtonElement} */ (this.#find('[data-action=stop]')).disabled = !CAN_STOP.has(flow.status);
  }

  close() {
    this.#flow = null;
    this.#token = null;
    this.#section.hidden = true;
    this.#body.replaceChildren();
  }

  /** @param {string} selector */
  #find(selector) {
    return /** @type {HTMLElement} */ (this.#body.querySelector(selector));
  }

  /** @param {any} flow @returns {HTMLElement[]} */
  #build(flow) {
    return [
      h('p', {}, 'Status: ', h('span', { class: 'status' }), ' ', h('span', { class: 'flow-error' })),
      h('div', { class: 'actions' },
        h('button', { type: 'button', 'data-action': 'start', onclick: () => this.#act('start') }, 'Start'),
        h('button', { type: 'button', 'data-action': 'stop', onclick: () => this.#act('stop') }, 'Stop'),
        h('button', { type: 'button', class: 'danger', onclick: () => this.#confirmDelete() }, 'Delete…')),
      h('p', { class: 'hint' }, 'Flows cannot be edited: delete one and create it again to change it.'),
      h('h3', {}, 'Source'),
      ...sourceFields(flow),
      h('h3', {}, 'Languages'),
      languageTable(flow),
      h('h3', {}, 'Preview'),
      h('div', { class: 'preview' }),
      h('h3', {}, 'Embed'),
      h('div', { class: 'actions' },
        h('button', { type: 'button', onclick: (/** @type {Event} */ e) => this.#openTokenDialog(/** @type {HTMLElement} */ (e.currentTarget)) },
          'Create viewer token…')),
      h('div', { class: 'snippets' }, h('p', { class: 'hint' }, 'Creating a preview token…')),
      h('h3', {}, 'Transcripts'),
      this.#downloads(flow),
    ];
  }

  /** @param {'start' | 'stop'} action */
  async #act(action) {
    const flow = this.#flow;
    try {
      const api = this.hooks.api();
      const updated = action === 'start' ? await api.startFlow(flow.flow_id) : await api.stopFlow(flow.flow_id);
      this.update(updated);
      announce(`Flow ${flow.name}: ${updated.status}`);
      await this.hooks.refresh();
    } catch (error) {
      this.hooks.fail(error);
    }
  }

  #confirmDelete() {
    const flow = this.#flow;
    const dialog = /** @type {HTMLDialogElement} */ (document.getElementById('delete-dialog'));
    /** @type {HTMLElement} */ (document.getElementById('delete-text')).textContent =
      `Delete ${flow.name}? It stops if it runs, its viewers are disconnected, and its captions and transcripts are deleted.`;
    const confirm = /** @type {HTMLButtonElement} */ (document.getElementById('delete-confirm'));
    const cancel = /** @type {HTMLButtonElement} */ (document.getElementById('delete-cancel'));
    const done = () => {
      confirm.onclick = null;
      cancel.onclick = null;
      dialog.close();
    };
    cancel.onclick = done;
    confirm.onclick = async () => {
      done();
      try {
        await this.hooks.api().deleteFlow(flow.flow_id);
        announce(`Flow ${flow.name} deleted`);
        this.close();
        await this.hooks.refresh();
        /** @type {HTMLElement} */ (document.getElementById('flows-title')).focus?.();
      } catch (error) {
        this.hooks.fail(error);
      }
    };
    dialog.showModal();
    cancel.focus(); // the safe choice first
  }

  /** @param {HTMLElement} opener */
  #openTokenDialog(opener) {
    const flow = this.#flow;
    this.#tokenDialog.open({
      stream: flow.stream_name,
      create: (options) => this.hooks.api().createToken({ streams: [flow.stream_name], ...options }),
      created: (token) => {
        if (this.flowId === flow.flow_id) this.#useToken(token);
      },
      opener,
    });
  }

  /** Preview and snippets with this token. @param {{token: string, expires_at: string}} token */
  #useToken(token) {
    this.#token = token;
    const flow = this.#flow;
    this.#find('.preview').replaceChildren(...this.#preview(flow, token.token));
    this.#find('.snippets').replaceChildren(...snippets(flow, token));
  }

  /** @param {any} flow @param {string} token */
  #preview(flow, token) {
    const origin = location.origin;
    const id = uniqueId('preview-language');
    const frame = h('iframe', {
      title: `Preview of ${flow.name} with captions`,
      src: embedUrl(origin, { stream: flow.stream_name, channel: flow.channels[0].name, token }),
      allow: 'autoplay; fullscreen',
    });
    const menu = h('select', {
      id,
      onchange: (/** @type {Event} */ e) => {
        const channel = /** @type {HTMLSelectElement} */ (e.currentTarget).value;
        frame.setAttribute('src', embedUrl(origin, { stream: flow.stream_name, channel, token }));
      },
    }, ...flow.channels.map((/** @type {any} */ c) => h('option', { value: c.name }, c.language)));
    return [h('div', {}, h('label', { for: id }, 'Preview language '), menu), frame];
  }

  /** @param {any} flow */
  #downloads(flow) {
    const languages = [flow.source_language, ...flow.target_languages];
    return h('div', { class: 'downloads' }, ...languages.map((language) => h('div', {},
      h('span', {}, `${language}:`),
      ...FORMATS.map(([format, name]) => h('button', {
        type: 'button',
        'aria-label': `Download the ${language} transcript as ${name}`,
        onclick: () => this.#download(flow, language, format),
      }, name)))));
  }

  /** @param {any} flow @param {string} language @param {string} format */
  async #download(flow, language, format) {
    try {
      const body = await this.hooks.api().transcript(flow.flow_id, { language, format: /** @type {any} */ (format) });
      const text = typeof body === 'string' ? body : JSON.stringify(body, null, 2);
      const link = h('a', {
        href: URL.createObjectURL(new Blob([text], { type: 'text/plain' })),
        download: `${flow.stream_name}-${language}.${format}`,
        hidden: true,
      });
      document.body.append(link);
      /** @type {HTMLAnchorElement} */ (link).click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(/** @type {HTMLAnchorElement} */ (link).href), 10_000);
      announce(`Downloading the ${language} transcript`);
    } catch (error) {
      this.hooks.fail(error);
    }
  }
}

/** @param {any} flow */
function sourceFields(flow) {
  if (flow.rtmp_details) {
    const rtmp = flow.rtmp_details;
    return [
      copyField('RTMP server URL', rtmp.url),
      copyField('Stream key', rtmp.stream_key),
      copyField('Full RTMP URL', rtmp.full_url, { id: 'rtmp-full-url' }),
    ];
  }
  if (flow.srt_details) {
    return [
      copyField('SRT URL', flow.srt_details.full_url, { id: 'srt-full-url' }),
      copyField('SRT passphrase', flow.srt_details.passphrase),
    ];
  }
  return [copyField('Pull URL', flow.url ?? '')];
}

/** @param {any} flow */
function languageTable(flow) {
  return h('table', {},
    h('thead', {}, h('tr', {},
      h('th', { scope: 'col' }, 'Language'), h('th', { scope: 'col' }, 'Caption channel'), h('th', { scope: 'col' }, 'Kind'))),
    h('tbody', {}, ...flow.channels.map((/** @type {any} */ c) => h('tr', {},
      h('td', {}, c.language), h('td', {}, h('code', {}, c.name)), h('td', {}, c.service_type)))));
}

/** @param {any} flow @param {{token: string, expires_at: string}} token */
function snippets(flow, token) {
  const origin = location.origin;
  const first = flow.channels[0].name;
  const player = embedUrl(origin, { stream: flow.stream_name, channel: first, token: token.token });
  return [
    h('p', { class: 'hint' }, `These use a viewer token valid until ${new Date(token.expires_at).toLocaleString()}.`),
    copyField('iframe snippet', iframeSnippet(player), { multiline: true, id: 'iframe-snippet' }),
    copyField('Script snippet', scriptSnippet(origin, { channel: first, token: token.token }), { multiline: true, id: 'script-snippet' }),
    copyField('HLS playlist URL', hlsUrl(origin, flow.stream_name, token.token)),
    ...playoutUrls(origin, flow, token.token).map((p) => copyField(`Player URL (${p.language})`, p.player, { id: `player-url-${p.language}` })),
  ];
}
