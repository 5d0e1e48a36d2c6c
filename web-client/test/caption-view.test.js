// CaptionView: roll-up and pop-on lines from recorded captions, live and in sync mode.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { CaptionView, captionWords, wrapWords } from '../src/caption-view.js';
import { caption } from './support/captions.js';

const texts = (lines) => lines.map((l) => (l.final ? l.text : `~${l.text}`));

test('roll-up: finals commit words, the newest partial follows them until replaced', () => {
  const view = new CaptionView({ maxCharsPerLine: 20, maxLines: 2 });
  view.apply(caption(1, 'The city council', { final: false }), 0);
  assert.deepEqual(texts(view.lines(0)), ['~The city council']);
  view.apply(caption(2, 'The city', { final: true }), 1);
  view.apply(caption(3, 'council has approved', { final: false, start: 1 }), 1);
  assert.deepEqual(texts(view.lines(1)), ['~The city council has', '~approved']);
  view.apply(caption(4, 'council has', { start: 1 }), 2);
  // the partial (seq 3) is older than the final: gone until the next partial
  assert.deepEqual(texts(view.lines(2)), ['The city council has']);
  view.apply(caption(5, 'approved a plan to build it.', { final: false, start: 2 }), 2);
  assert.deepEqual(texts(view.lines(2)), ['~approved a plan to', '~build it.']);
});

test('roll-up keeps the last lines, and earlier lines do not move when words come', () => {
  const view = new CaptionView({ maxCharsPerLine: 12, maxLines: 2 });
  view.apply(caption(1, 'one two three four five six seven'), 0);
  assert.deepEqual(texts(view.lines(0)), ['five six', 'seven']);
  view.apply(caption(2, 'eight', { start: 4 }), 0);
  assert.deepEqual(texts(view.lines(0)), ['five six', 'seven eight']);
});

test('an older partial arriving after a newer one is ignored', () => {
  const view = new CaptionView();
  view.apply(caption(5, 'newer words', { final: false }), 0);
  view.apply(caption(4, 'older', { final: false }), 0);
  assert.deepEqual(texts(view.lines(0)), ['~newer words']);
});

test('punctuation joins the word before it; a caption without items is spread evenly', () => {
  assert.deepEqual(captionWords(caption(1, 'Hello, world.'), true).map((w) => w.text), ['Hello,', 'world.']);
  const words = captionWords(caption(1, 'a b c d', { items: false, start: 10, step: 1 }), true);
  assert.deepEqual(words.map((w) => [w.text, w.start]), [['a', 10], ['b', 11], ['c', 12], ['d', 13]]);
});

test('sync mode shows each word once the playhead reaches it', () => {
  const view = new CaptionView({ maxCharsPerLine: 40 });
  view.apply(caption(1, 'one two three', { start: 10, step: 1 }), 0);
  view.apply(caption(2, 'four five', { final: false, start: 13, step: 1 }), 0);
  assert.deepEqual(texts(view.lines(0, 9.5)), []);
  assert.deepEqual(texts(view.lines(0, 11)), ['one two']);
  assert.deepEqual(texts(view.lines(0, 13.2)), ['~one two three four']);
  assert.deepEqual(texts(view.lines(0, null)), ['~one two three four five']);
});

test('text clears after clearAfter seconds: wall clock live, flow time in sync mode', () => {
  const view = new CaptionView({ clearAfter: 5 });
  view.apply(caption(1, 'hello there', { start: 20 }), 100);
  assert.equal(view.lines(104).length, 1);
  assert.equal(view.lines(106).length, 0);
  assert.equal(view.lines(200, 24).length, 1); // ended at 21: within 5 s of the playhead
  assert.equal(view.lines(200, 27).length, 0);
  assert.equal(new CaptionView({ clearAfter: 0 }).lines(1e9).length, 0);
});

test('the end of stream drops the partial and keeps the committed words', () => {
  const view = new CaptionView();
  view.apply(caption(1, 'kept'), 0);
  view.apply(caption(2, 'guess', { final: false, start: 1 }), 0);
  view.apply(caption(3, '', { end: true }), 0);
  assert.deepEqual(texts(view.lines(0)), ['kept']);
});

test('pop-on shows the newest caption block as the server broke its lines', () => {
  const view = new CaptionView({ mode: 'popon', clearAfter: 6 });
  view.apply(caption(1, 'ignored partial', { final: false }), 0);
  assert.deepEqual(view.lines(0), []);
  view.apply(caption(2, 'The city council has approved', {
    type: 'captions', lines: ['The city council', 'has approved'], start: 1,
  }), 0);
  view.apply(caption(3, 'a plan', { type: 'captions', lines: ['a plan'], start: 4 }), 1);
  assert.deepEqual(texts(view.lines(1)), ['a plan']);
  assert.deepEqual(texts(view.lines(1, 3)), ['The city council', 'has approved']);
  assert.deepEqual(texts(view.lines(1, 0.5)), []);
  assert.deepEqual(view.lines(8), []); // six seconds after it arrived
});

test('many words stay bounded and the shown lines are unchanged by trimming', () => {
  const view = new CaptionView({ maxCharsPerLine: 30, maxLines: 3 });
  let seq = 0;
  let before = null;
  for (let i = 0; i < 300; i += 1) {
    before = view.lines(0);
    view.apply(caption(++seq, `word${i} and more`, { start: i * 2 }), 0);
  }
  assert.ok(view.committed.length <= 400);
  assert.equal(view.lines(0).length, 3);
  assert.ok(before.length === 3);
});

test('wrapWords fills lines greedily; a long word gets a line of its own', () => {
  const words = ['aa', 'bb', 'cccccccccc', 'd'].map((text) => ({ text }));
  assert.deepEqual(wrapWords(words, 5).map((l) => l.map((w) => w.text).join(' ')), ['aa bb', 'cccccccccc', 'd']);
});
