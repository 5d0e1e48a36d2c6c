/**
 * captioncast: manage flows and viewer tokens over the REST API, and subscribe to live
 * captions over the native WebSocket protocol, in Node (18 and later) and in browsers.
 *
 *     import { CaptionCast } from 'captioncast';
 *     const cc = new CaptionCast(apiKey, { url: 'http://127.0.0.1:8080' });
 *     const flow = await cc.createFlow({ name: 'news', sourceLanguage: 'en' });
 *     await cc.startFlow(flow.flow_id);
 *     cc.subscribe({ flowId: flow.flow_id, onCaption: (c) => console.log(c.lines.join('\n')) });
 * @module
 */

export { CaptionCast } from './client.js';
export { ApiError, SubscribeError } from './errors.js';
export { Subscription } from './subscription.js';
export {
  FATAL_CLOSE_CODES, ViewerSession, afterClose, parseCaption, refreshTime,
} from './viewer.js';
