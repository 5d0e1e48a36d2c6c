// The embed player (/embed/player.html): a flow's HLS with hls.js, its captions from the
// caption WebSocket over the video, a language menu, caption size, and sync mode.
// Parameters: params.js; sync mode: sync.js; errors are shown in the page (#message).
import { CaptionClient, CaptionOverlay, sameServerSocketUrl } from '../captioncast.mjs';
import { captionChannels, playerParams, tokenExpiry } from './params.js';
import { flowTimeOf, holdBack } from './sync.js';

const RETRY_MS = 3000;
const SIZE_STEP = 0.25;

const params = playerParams(location.search);
const video = /** @type {HTMLVideoElement} */ (document.getElementById('video'));
const messageBox = /** @type {HTMLElement} */ (document.getElementById('message'));
const statusBox = /** @type {HTMLElement} */ (document.getElementById('status'));
const languageMenu = /** @type {HTMLSelectElement} */ (document.getElementById('language'));
const syncBox = /** @type {HTMLInputElement} */ (document.getElementById('sync'));

/** @type {{initPTS: number, timescale: number} | null} */
let timeline = null;
/** @type {CaptionClient | null} */
let client = null;
/** @type {any} */
let hls = null;
let holding = false;
/** Whether a video is coming: until it plays, sync mode shows no caption ahead of it. */
let videoExpected = true;

const overlay = new CaptionOverlay(document.getElementById('captions'), {
  mode: params.mode,
  maxLines: params.maxLines,
  fontScale: params.fontScale,
  playhead: () => {
    if (!syncBox.checked) return null;
    const now = flowTime();
    if (now !== null) return now;
    return videoExpected ? -Infinity : null; // no video: captions as they arrive
  },
});

/** The flow time on screen, or null before the first media is in. */
function flowTime() {
  if (!timeline || video.readyState < 1) return null;
  return flowTimeOf(video.currentTime, timeline.initPTS, timeline.timescale);
}

/** @param {string} text */
function showError(text) {
  messageBox.textContent = text;
  messageBox.hidden = false;
}

function clearError() {
  messageBox.hidden = true;
  messageBox.textContent = '';
}

/** @param {string} text */
function showStatus(text) {
  statusBox.textContent = text;
}

// --- captions

/** @param {string | null} channel */
function showCaptions(channel) {
  client?.close();
  client = null;
  overlay.clear();
  if (!channel) {
    showStatus('Captions off');
    return;
  }
  const next = new CaptionClient({
    url: sameServerSocketUrl(location.href),
    channel,
    token: /** @type {string} */ (params.captionToken),
  });
  next.on('caption', (caption) => {
    overlay.apply(caption);
    holdForLateCaption(caption);
  });
  next.on('state', ({ state }) => showStatus(STATE_WORDS[state] ?? ''));
  next.on('error', (error) => showError(error.message));
  client = next;
}

/** @type {Record<string, string>} */
const STATE_WORDS = {
  connecting: 'Connecting captions…',
  live: 'Captions live',
  reconnecting: 'Captions reconnecting…',
  ended: 'The stream has ended',
  failed: 'Captions stopped',
  closed: 'Captions closed',
};

/**
 * Sync mode: a caption whose words the video already showed holds the video back by that
 * much, so that the next ones come in time.
 * @param {{type: string, start: number, isFinal: boolean}} caption
 */
function holdForLateCaption(caption) {
  const wanted = overlay.mode === 'popon' ? caption.type === 'captions' : caption.type === 'transcript';
  const now = flowTime();
  if (!syncBox.checked || !wanted || holding || now === null || video.paused) return;
  const seconds = holdBack(now, caption.start);
  if (!seconds) return;
  holding = true;
  video.pause();
  showStatus(`Holding the video ${seconds.toFixed(1)} s for the captions`);
  setTimeout(() => {
    if (!holding) return;
    holding = false;
    showStatus(STATE_WORDS[client?.state ?? ''] ?? '');
    video.play().catch(() => {});
  }, seconds * 1000);
}

video.addEventListener('play', () => {
  holding = false;
});

// --- video

function masterUrl() {
  return new URL(`../v1/hls/${encodeURIComponent(/** @type {string} */ (params.stream))}/master.m3u8`, location.href).href;
}

function startVideo() {
  const Hls = /** @type {any} */ (globalThis).Hls;
  if (Hls?.isSupported()) {
    playWithHlsJs(Hls);
  } else if (video.canPlayType('application/vnd.apple.mpegurl')) {
    // No Media Source Extensions but native HLS (older iPhones): the token in the URL, as
    // the element cannot add headers; no sync mapping.
    videoExpected = false;
    video.src = `${masterUrl()}?token=${encodeURIComponent(/** @type {string} */ (params.videoToken))}`;
    play();
  } else {
    videoExpected = false;
    showError('This browser cannot play HLS video (no Media Source Extensions). Captions still show.');
  }
}

/** @param {any} Hls */
function playWithHlsJs(Hls) {
  hls = new Hls({
    xhrSetup(/** @type {XMLHttpRequest} */ xhr, /** @type {string} */ url) {
      xhr.open('GET', url, true);
      xhr.setRequestHeader('Authorization', `Bearer ${params.videoToken}`);
    },
  });
  hls.on(Hls.Events.MANIFEST_PARSED, (/** @type {any} */ _event, /** @type {any} */ data) => {
    clearError();
    showStatus(STATE_WORDS[client?.state ?? ''] ?? '');
    // captioncast draws the captions itself: keep hls.js's subtitle renditions off
    hls.subtitleDisplay = false;
    hls.subtitleTrack = -1;
    fillLanguages((data.subtitleTracks ?? []).map((/** @type {any} */ t) => t.lang).filter(Boolean));
    play();
  });
  hls.on(Hls.Events.INIT_PTS_FOUND, (/** @type {any} */ _event, /** @type {any} */ data) => {
    if (data.id === 'main') timeline = { initPTS: data.initPTS, timescale: data.timescale };
  });
  hls.on(Hls.Events.ERROR, (/** @type {any} */ _event, /** @type {any} */ data) => videoError(Hls, data));
  hls.loadSource(masterUrl());
  hls.attachMedia(video);
}

function play() {
  video.play().catch(() => {
    // autoplay with sound refused: start muted, the viewer can unmute
    video.muted = true;
    video.play().catch(() => {});
  });
}

let recoveredMedia = false;

/** @param {any} Hls @param {any} data */
function videoError(Hls, data) {
  if (!data.fatal) return;
  const status = data.response?.code;
  if (data.type === Hls.ErrorTypes.NETWORK_ERROR) {
    if (status === 401) {
      const exp = tokenExpiry(params.videoToken);
      showError(exp !== null && exp * 1000 <= Date.now()
        ? 'The viewer token has expired: the video stopped. Reload with a new link.'
        : 'The viewer token was refused: the video cannot play.');
      stopVideo();
    } else if (status === 403) {
      showError('The viewer token does not allow this stream (or this website).');
      stopVideo();
    } else {
      if (status === 404 && data.details === Hls.ErrorDetails.MANIFEST_LOAD_ERROR) {
        showStatus('Waiting for the stream to start…');
      } else {
        showError('The video cannot be loaded right now; trying again…');
      }
      hls.destroy();
      setTimeout(startVideo, RETRY_MS);
    }
  } else if (data.type === Hls.ErrorTypes.MEDIA_ERROR && !recoveredMedia) {
    recoveredMedia = true;
    hls.recoverMediaError();
  } else {
    showError(`The video stopped: this browser cannot play it (${data.details}). Captions still show.`);
    stopVideo();
  }
}

/** No video will come: captions go on, shown as they arrive. */
function stopVideo() {
  hls?.destroy();
  hls = null;
  timeline = null;
  videoExpected = false;
  overlay.render();
}

// --- controls

/** @param {string[]} languages */
function fillLanguages(languages) {
  const channels = captionChannels(/** @type {string} */ (params.stream), languages, params.channel);
  const chosen = languageMenu.value || params.channel || channels[0]?.channel || '';
  languageMenu.replaceChildren(new Option('Off', ''));
  for (const { language, channel } of channels) languageMenu.add(new Option(languageName(language), channel));
  languageMenu.value = chosen;
  languageMenu.disabled = false;
  if (chosen !== client?.channel) showCaptions(chosen || null);
}

/** `de` → `Deutsch (de)` in the viewer's language, where the browser knows it.
 * @param {string} code */
function languageName(code) {
  try {
    const name = new Intl.DisplayNames([navigator.language, 'en'], { type: 'language' }).of(code);
    return name && name !== code ? `${name} (${code})` : code;
  } catch {
    return code;
  }
}

function setUpControls() {
  languageMenu.addEventListener('change', () => showCaptions(languageMenu.value || null));
  syncBox.checked = params.sync;
  syncBox.addEventListener('change', () => overlay.render());
  for (const [id, step] of [['smaller', -SIZE_STEP], ['larger', SIZE_STEP]]) {
    document.getElementById(/** @type {string} */ (id))?.addEventListener('click', () => {
      overlay.fontScale += /** @type {number} */ (step);
    });
  }
}

function main() {
  setUpControls();
  if (params.problems.length) {
    showError(params.problems.join(' '));
    return;
  }
  if (params.channel) {
    // named by its language once the stream's playlist lists them
    languageMenu.replaceChildren(new Option('Off', ''), new Option(params.channel, params.channel));
    languageMenu.value = params.channel;
    showCaptions(params.channel);
  }
  startVideo();
  // for debugging in the console, and for the browser tests
  Object.assign(globalThis, { captioncastPlayer: { video, overlay, flowTime, get hls() { return hls; }, get client() { return client; } } });
}

main();
