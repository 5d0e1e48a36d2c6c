// The captioncast browser library as an ES module (docs/browser.md):
//   import { NanoMessenger, CaptionClient, CaptionOverlay } from 'https://HOST/static/captioncast.mjs';
export * from './web-client/src/index.js';
