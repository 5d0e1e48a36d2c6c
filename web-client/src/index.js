/**
 * captioncast in the browser: live captions written into an overlay element.
 *
 * As an ES module: `import { NanoMessenger } from 'https://HOST/static/captioncast.mjs'`.
 * As a classic script: `<script src="https://HOST/static/captioncast.js">` defines the
 * globals `captioncast` (everything below) and `NanoMessenger`. The default stylesheet is
 * `/static/captioncast.css`. See docs/browser.md.
 * @module
 */

export { CaptionClient } from './caption-client.js';
export { CaptionView, VIEW_DEFAULTS, captionWords, wrapWords } from './caption-view.js';
export { CaptionError, describeClose, streamOf } from './errors.js';
export { NanoMessenger } from './nano-messenger.js';
export { CaptionOverlay, FONT_SCALE_RANGE } from './overlay.js';
export { SOCKET_PATH, sameServerSocketUrl, socketUrl } from './urls.js';
export { parseCaption } from '../../js/src/viewer.js';
