// The pure parts of the embed player and the dashboard (served from captioncast's static
// files): query parameters, sync mode's clock, snippets, the flow form, token decoding.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { decodeJwt } from '../../src/captioncast/web/static/common/jwt.js';
import { flowRequest, languageList } from '../../src/captioncast/web/static/dashboard/flow-form.js';
import {
  embedUrl, hlsUrl, iframeSnippet, playoutUrls, scriptSnippet,
} from '../../src/captioncast/web/static/dashboard/snippets.js';
import { captionChannels, playerParams, tokenExpiry } from '../../src/captioncast/web/static/embed/params.js';
import { flowTimeOf, holdBack, MAX_HOLD } from '../../src/captioncast/web/static/embed/sync.js';

const b64 = (value) => Buffer.from(JSON.stringify(value)).toString('base64url');
const jwt = (claims) => `${b64({ alg: 'EdDSA', kid: 'k1', typ: 'JWT' })}.${b64(claims)}.c2ln`;

test("the player takes nanoStream's parameters", () => {
  const p = playerParams('?group.id=news&caption.channel=news-en-de&caption.token=T1&group.security.jwtoken=T2');
  assert.deepEqual(
    [p.stream, p.channel, p.captionToken, p.videoToken, p.mode, p.sync, p.problems],
    ['news', 'news-en-de', 'T1', 'T2', 'rollup', true, []],
  );
  const one = playerParams('?caption.channel=news-en-en&caption.token=T&caption.mode=popon&caption.sync=0&caption.size=9&caption.lines=3');
  assert.deepEqual([one.stream, one.videoToken, one.mode, one.sync, one.fontScale, one.maxLines], ['news', 'T', 'popon', false, 3, 3]);
  assert.equal(playerParams('').problems.length, 2);
  assert.match(playerParams('?group.id=a&caption.channel=b-en-en&caption.token=T').problems[0], /not one of the stream a/);
});

test('caption channels from the HLS subtitle languages, source first', () => {
  assert.deepEqual(captionChannels('news', ['en', 'de', 'es-419'], 'news-en-de'), [
    { language: 'en', channel: 'news-en-en' },
    { language: 'de', channel: 'news-en-de' },
    { language: 'es-419', channel: 'news-en-es-419' },
  ]);
  assert.deepEqual(captionChannels('news', [], 'news-en-fr'), [{ language: 'en-fr', channel: 'news-en-fr' }]);
  assert.deepEqual(captionChannels('news', ['en'], 'news-en-fr').at(-1), { language: 'fr', channel: 'news-en-fr' });
});

test('sync mode: the flow time on screen, and how long to hold the video for a late caption', () => {
  // the stream started at flow time 0: PTS 900000 plays at 0
  assert.equal(flowTimeOf(3.5, 900000, 90000), 3.5);
  // a viewer that joined later: hls.js put PTS 900000 + 90000·40 at media time 2
  assert.equal(flowTimeOf(2, 900000 + 90000 * 38, 90000), 40);
  assert.equal(holdBack(10, 10.1), 0);
  assert.equal(holdBack(10, 9.9), 0); // within a quarter second: in time
  assert.equal(holdBack(12, 10), 2.5);
  assert.equal(holdBack(100, 10), MAX_HOLD);
});

test('tokens are decoded for display, not trusted', () => {
  const token = jwt({ streams: ['news'], exp: 1800000000 });
  assert.deepEqual(decodeJwt(token)?.claims.streams, ['news']);
  assert.equal(decodeJwt(token)?.header.kid, 'k1');
  assert.equal(tokenExpiry(token), 1800000000);
  assert.equal(decodeJwt('not.a-jwt'), null);
  assert.equal(decodeJwt('a.b.c'), null);
  assert.equal(tokenExpiry(null), null);
});

test('snippets: the embed URL, an iframe, a NanoMessenger page, HLS and per-language URLs', () => {
  const origin = 'https://captions.example.com';
  const url = embedUrl(origin, { stream: 'news', channel: 'news-en-de', token: 'a.b+c' });
  const query = new URL(url).searchParams;
  assert.equal(new URL(url).pathname, '/embed/player.html');
  assert.deepEqual(
    ['group.id', 'caption.channel', 'caption.token', 'group.security.jwtoken'].map((k) => query.get(k)),
    ['news', 'news-en-de', 'a.b+c', 'a.b+c'],
  );
  assert.match(iframeSnippet(url), /^<iframe src="https:\/\/captions\.example\.com\/embed\/player\.html\?group\.id=news&amp;caption/);
  const page = scriptSnippet(origin, { channel: 'news-en-de', token: 'T' });
  assert.match(page, /new NanoMessenger\("captions\.example\.com", 443, \{ overlayDiv: "caption-text" \}\)/);
  assert.match(page, /messenger\.connect\("T", null, "news-en-de",/);
  assert.match(page, /src="https:\/\/captions\.example\.com\/static\/captioncast\.js"/);
  assert.equal(hlsUrl(origin, 'news', 'T'), 'https://captions.example.com/v1/hls/news/master.m3u8?token=T');
  const flow = { stream_name: 'news', flow_id: 'f', channels: [
    { name: 'news-en-en', language: 'en', service_type: 'transcription' },
    { name: 'news-en-de', language: 'de', service_type: 'translation' },
  ] };
  assert.deepEqual(playoutUrls(origin, flow, 'T').map((p) => [p.language, new URL(p.player).searchParams.get('caption.channel')]),
    [['en', 'news-en-en'], ['de', 'news-en-de']]);
  assert.match(scriptSnippet('http://127.0.0.1:8080', { channel: 'c', token: 'T' }), /NanoMessenger\("127\.0\.0\.1", 8080,/);
});

test('the new-flow form becomes a POST /v1/flows body', () => {
  assert.deepEqual(flowRequest({
    name: ' news ', source: 'rtmp_push', url: 'ignored', source_language: 'en', target_languages: 'de, es-419 de',
    max_latency: '3', max_chars_per_line: '32', max_lines: '', model: '',
  }), {
    name: 'news', source: 'rtmp_push', source_language: 'en', target_languages: ['de', 'es-419'],
    max_latency: 3, caption: { max_chars_per_line: 32 },
  });
  assert.deepEqual(flowRequest({ name: 'p', source: 'url_pull', url: ' srt://h:9000 ', source_language: '' }), {
    name: 'p', source: 'url_pull', source_language: 'en', target_languages: [], url: 'srt://h:9000',
  });
  assert.deepEqual(languageList(''), []);
});
