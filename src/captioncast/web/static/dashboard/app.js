// The dashboard (/dashboard/): the REST API with the API key the user types in (kept in
// sessionStorage: gone when the tab closes), every call with `Authorization: Bearer`.
// The flows table refreshes every few seconds; the detail panel is detail.js.
import { CaptionCast } from '../js/src/client.js';
import { ApiError } from '../js/src/errors.js';
import { FlowDetail } from './detail.js';
import { announce, h } from './dom.js';
import { flowRequest } from './flow-form.js';
import { LatencyMeters } from './meters.js';

const KEY_STORAGE = 'captioncast.apiKey';
const REFRESH_MS = 3000;

const byId = (/** @type {string} */ id) => /** @type {HTMLElement} */ (document.getElementById(id));
const keyForm = /** @type {HTMLFormElement} */ (byId('key-form'));
const keyInput = /** @type {HTMLInputElement} */ (byId('api-key'));
const alertBox = byId('alert');
const main = byId('main');
const rows = /** @type {HTMLTableSectionElement} */ (document.querySelector('#flows tbody'));

/** @type {CaptionCast | null} */
let api = null;
/** @type {Map<string, any>} */
let flows = new Map();
/** @type {LatencyMeters | null} */
let meters = null;
/** @type {ReturnType<typeof setInterval> | undefined} */
let refreshTimer;

const detail = new FlowDetail({
  api: () => /** @type {CaptionCast} */ (api),
  refresh: () => refresh(),
  fail: (error) => showError(error),
});

/** @param {unknown} error */
function showError(error) {
  if (error instanceof ApiError && error.status === 401) {
    signOut('The API key was refused: type it again.');
    return;
  }
  const text = error instanceof ApiError
    ? `${error.message} (${error.code})`
    : `The server cannot be reached (${/** @type {Error} */ (error).message}).`;
  alertBox.textContent = text;
  alertBox.hidden = false;
}

function clearError() {
  alertBox.hidden = true;
  alertBox.textContent = '';
}

// --- the API key

/** @param {string} key */
async function signIn(key) {
  const candidate = new CaptionCast(key, { url: location.origin });
  try {
    await candidate.listFlows();
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) {
      signOut('The API key was refused.');
    } else {
      showError(error);
    }
    return;
  }
  api = candidate;
  sessionStorage.setItem(KEY_STORAGE, key);
  clearError();
  keyInput.value = '';
  keyInput.placeholder = 'key in use (this tab only)';
  keyInput.required = false;
  byId('forget-key').hidden = false;
  main.hidden = false;
  meters?.closeAll();
  meters = new LatencyMeters(
    async (streams) => (await candidate.createToken({ streams, ttl: 600 })).token,
    (flowId) => updateLatency(flowId),
  );
  await refresh();
  clearInterval(refreshTimer);
  refreshTimer = setInterval(refresh, REFRESH_MS);
  announce('Signed in: flows loaded');
}

/** @param {string} [reason] */
function signOut(reason) {
  sessionStorage.removeItem(KEY_STORAGE);
  api = null;
  clearInterval(refreshTimer);
  meters?.closeAll();
  meters = null;
  detail.close();
  flows = new Map();
  rows.replaceChildren();
  main.hidden = true;
  byId('forget-key').hidden = true;
  keyInput.placeholder = '';
  keyInput.required = true;
  if (reason) {
    alertBox.textContent = reason;
    alertBox.hidden = false;
  }
  keyInput.focus();
}

keyForm.addEventListener('submit', (event) => {
  event.preventDefault();
  const key = keyInput.value.trim();
  if (key) signIn(key);
});
byId('forget-key').addEventListener('click', () => {
  signOut();
  announce('The API key was forgotten');
});

// --- the flows table

async function refresh() {
  if (!api) return;
  let list;
  try {
    list = await api.listFlows();
  } catch (error) {
    showError(error);
    return;
  }
  flows = new Map(list.map((flow) => [flow.flow_id, flow]));
  renderRows(list);
  meters?.follow(list);
  detail.update(flows.get(detail.flowId ?? '') ?? null);
}

/** @param {any[]} list */
function renderRows(list) {
  const existing = new Map([...rows.children].map((row) => [/** @type {HTMLElement} */ (row).dataset.flow, row]));
  for (const flow of list) {
    let row = existing.get(flow.flow_id);
    if (!row) {
      row = newRow(flow);
      rows.append(row);
    }
    existing.delete(flow.flow_id);
    fillRow(/** @type {HTMLTableRowElement} */ (row), flow);
  }
  for (const gone of existing.values()) gone.remove();
  byId('no-flows').hidden = list.length > 0;
}

/** @param {any} flow */
function newRow(flow) {
  const open = h('button', {
    type: 'button',
    class: 'link',
    'aria-label': `Open flow ${flow.name}`,
    onclick: () => selectFlow(flow.flow_id, true),
  }, flow.name);
  const row = h('tr', { 'data-flow': flow.flow_id },
    h('th', { scope: 'row' }, open),
    h('td', {}, h('span', { class: 'status' })),
    h('td', { class: 'source' }),
    h('td', { class: 'languages' }),
    h('td', { class: 'latency' }),
    h('td', { class: 'viewers' }),
    h('td', { class: 'input' }));
  return row;
}

/** @param {HTMLTableRowElement} row @param {any} flow */
function fillRow(row, flow) {
  const status = /** @type {HTMLElement} */ (row.querySelector('.status'));
  status.textContent = flow.status;
  status.className = `status ${flow.status}`;
  if (flow.error) status.title = flow.error;
  setText(row, '.source', SOURCE_NAMES[flow.source] ?? flow.source);
  setText(row, '.languages', [flow.source_language, ...flow.target_languages].join(', '));
  setText(row, '.latency', meters?.describe(flow.flow_id) ?? '—');
  setText(row, '.viewers', String(countViewers(flow)));
  setText(row, '.input', describeIngest(flow));
  row.classList.toggle('selected', flow.flow_id === detail.flowId);
}

/**
 * Viewers on all of a flow's channels (WebSocket and Pusher), this dashboard's own latency
 * meter included. @param {any} flow
 */
function countViewers(flow) {
  return (flow.channels ?? []).reduce((sum, c) => sum + (c.viewers ?? 0), 0);
}

/** @param {string} flowId */
function updateLatency(flowId) {
  const row = rows.querySelector(`tr[data-flow="${CSS.escape(flowId)}"]`);
  if (row) setText(row, '.latency', meters?.describe(flowId) ?? '—');
}

/** @param {Element} row @param {string} selector @param {string} text */
function setText(row, selector, text) {
  const cell = /** @type {HTMLElement} */ (row.querySelector(selector));
  if (cell.textContent !== text) cell.textContent = text;
}

/** @type {Record<string, string>} */
const SOURCE_NAMES = { rtmp_push: 'RTMP push', srt_push: 'SRT push', url_pull: 'URL pull' };

/** The running source, from the flow's `ingest` (docs/api.md). @param {any} flow */
function describeIngest(flow) {
  const ingest = flow.ingest;
  if (!ingest) return flow.status === 'error' ? (flow.error ?? 'error') : '—';
  const parts = [ingest.connected ? 'receiving' : 'no input'];
  parts.push(`${Math.round(ingest.audio_seconds)} s audio`);
  if (ingest.publishers > 1) parts.push(`${ingest.publishers} connections`);
  if (ingest.gaps.length) parts.push(`${ingest.gaps.length} gaps`);
  return parts.join(' · ');
}

/** @param {string} flowId @param {boolean} [focus] */
function selectFlow(flowId, focus = false) {
  const flow = flows.get(flowId);
  if (!flow) return;
  detail.open(flow, focus);
  for (const row of rows.children) {
    row.classList.toggle('selected', /** @type {HTMLElement} */ (row).dataset.flow === flowId);
  }
}

// --- the create form

const createForm = /** @type {HTMLFormElement} */ (byId('create-form'));
const sourceSelect = /** @type {HTMLSelectElement} */ (byId('flow-source'));
sourceSelect.addEventListener('change', () => {
  const pull = sourceSelect.value === 'url_pull';
  byId('flow-url-field').hidden = !pull;
  /** @type {HTMLInputElement} */ (byId('flow-url')).required = pull;
});

createForm.addEventListener('submit', async (event) => {
  event.preventDefault();
  if (!api) return;
  const fields = Object.fromEntries([...new FormData(createForm)].map(([k, v]) => [k, String(v)]));
  const button = /** @type {HTMLButtonElement} */ (createForm.querySelector('button[type=submit]'));
  button.disabled = true;
  try {
    const flow = await api.createFlow(flowRequest(fields));
    clearError();
    createForm.reset();
    byId('flow-url-field').hidden = true;
    await refresh();
    selectFlow(flow.flow_id, true);
    announce(`Flow ${flow.name} created`);
  } catch (error) {
    showError(error);
  } finally {
    button.disabled = false;
  }
});

// --- start

const saved = sessionStorage.getItem(KEY_STORAGE);
if (saved) signIn(saved);
else keyInput.focus();
