// CaptionOverlay writing into a minimal fake DOM: lines, partial marking, accessibility.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { CaptionOverlay } from '../src/overlay.js';
import { caption } from './support/captions.js';
import { FakeDocument, shownLines } from './support/fake-dom.js';

function overlayIn(options = {}) {
  const document = new FakeDocument();
  const element = document.element('captions');
  const overlay = new CaptionOverlay(element, { tickMs: 0, ...options });
  return { element, overlay };
}

test('the overlay element is a polite live region styled by captioncast.css', () => {
  const { element, overlay } = overlayIn({ fontScale: 1.5 });
  overlay.render(0);
  assert.equal(element.getAttribute('aria-live'), 'polite');
  assert.ok(element.classList.contains('cc-overlay'));
  assert.ok(element.classList.contains('cc-empty'));
  assert.equal(element.style.getPropertyValue('--cc-font-scale'), '1.5');
});

test('lines are written once each; partial lines are marked and hidden from screen readers', () => {
  const { element, overlay } = overlayIn({ maxCharsPerLine: 16 });
  overlay.apply(caption(1, 'The city council', { final: true }));
  overlay.apply(caption(2, 'has approved', { final: false, start: 2 }));
  assert.deepEqual(shownLines(element), [['The city council', false], ['has approved', true]]);
  assert.equal(element.children[1].getAttribute('aria-hidden'), 'true');
  assert.equal(element.children[0].getAttribute('aria-hidden'), null);
  assert.equal(element.getAttribute('lang'), 'en');
  const first = element.children[0];
  overlay.apply(caption(3, 'has approved', { final: true, start: 2 }));
  assert.equal(element.children[0], first); // reused, not rebuilt
  assert.deepEqual(shownLines(element), [['The city council', false], ['has approved', false]]);
  assert.ok(!element.classList.contains('cc-empty'));
});

test('the element may be named by id and appear after the overlay is made', () => {
  const document = new FakeDocument();
  globalThis.document = document;
  try {
    const overlay = new CaptionOverlay('later', { tickMs: 0 });
    overlay.apply(caption(1, 'lost')); // nothing to write into yet
    const element = document.element('later');
    element.textContent = 'placeholder';
    overlay.apply(caption(2, 'found', { start: 1 }));
    assert.deepEqual(shownLines(element), [['lost found', false]]);
    assert.equal(element.ownText, '');
  } finally {
    delete globalThis.document;
  }
});

test('font scale is clamped to a readable range', () => {
  const { element, overlay } = overlayIn();
  overlay.fontScale = 10;
  assert.equal(overlay.fontScale, 3);
  overlay.fontScale = 0.1;
  assert.equal(element.style.getPropertyValue('--cc-font-scale'), '0.5');
});

test('a sink receives the lines instead of the element; repeats are not sent again', () => {
  const seen = [];
  const { element, overlay } = overlayIn({ sink: (lines) => seen.push(lines.map((l) => l.text)) });
  overlay.apply(caption(1, 'hello'));
  overlay.render();
  overlay.clear();
  assert.deepEqual(seen, [['hello'], []]);
  assert.equal(element.children.length, 0);
});

test('sync mode: the playhead decides which words are on screen', () => {
  let playhead = 0;
  const { element, overlay } = overlayIn({ playhead: () => playhead });
  overlay.apply(caption(1, 'one two three', { start: 1, step: 1 }));
  assert.deepEqual(shownLines(element), []);
  playhead = 2.5;
  overlay.render();
  assert.deepEqual(shownLines(element), [['one two', false]]);
});
