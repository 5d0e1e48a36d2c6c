// The pure protocol core with recorded frames: no socket, no timer.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { ViewerSession, afterClose, refreshTime } from '../src/viewer.js';

const CHANNEL = 'demo-en-en';

/** A caption message as the server sends it. */
function envelope(seq, text, { epoch = 'e1', type = 'captions', end = false } = {}) {
  const response = {
    id: `r${seq}`, type, service_type: 'transcription', language_code: 'en', start: seq,
    end: seq + 1, start_pts: null, start_epoch: 1e9 + seq, sei_timestamp: null, is_final: true,
    is_end_of_stream: end, speakers: [],
    alternatives: [
      { transcript: text, items: [], ...(type === 'captions' ? { lines: [text] } : {}) },
    ],
  };
  return JSON.stringify({ seq, epoch, channel: CHANNEL, response });
}

test('hello authenticates, then subscribes from the position', () => {
  assert.deepEqual(new ViewerSession(CHANNEL).hello('T').map((f) => JSON.parse(f)), [
    { type: 'auth', token: 'T' },
    { type: 'subscribe', channel: CHANNEL },
  ]);
  const resumed = new ViewerSession(CHANNEL, { seq: 7, epoch: 'e1' });
  assert.deepEqual(JSON.parse(resumed.hello('T')[1]).since, { seq: 7, epoch: 'e1' });
});

test('messages move the position and repeats are dropped', () => {
  const session = new ViewerSession(CHANNEL);
  assert.deepEqual(session.receive('{"type":"authenticated","exp":99}'), [
    { kind: 'authenticated', exp: 99 },
  ]);
  const [first] = session.receive(envelope(1, 'hello there'));
  assert.equal(first.kind, 'caption');
  assert.equal(first.caption.text, 'hello there');
  assert.deepEqual(first.caption.lines, ['hello there']);
  assert.deepEqual(session.receive(envelope(1, 'hello there')), []);
  assert.equal(session.receive(envelope(3, 'after a superseded partial')).length, 1);
  assert.deepEqual(session.position, { seq: 3, epoch: 'e1' });
});

test('a resume that cannot recover is a gap, and goes on from the channel', () => {
  const session = new ViewerSession(CHANNEL, { seq: 5, epoch: 'old' });
  const [event] = session.receive(JSON.stringify({
    type: 'subscribed', channel: CHANNEL, recovered: false, position: { seq: 2, epoch: 'new' },
  }));
  const gap = {
    channel: CHANNEL, since: { seq: 5, epoch: 'old' }, position: { seq: 2, epoch: 'new' },
    historyLost: true,
  };
  assert.deepEqual(event, { kind: 'subscribed', recovered: false, gap });
  assert.deepEqual(session.gaps, [gap]);
  assert.equal(session.receive(envelope(3, 'next', { epoch: 'new' })).length, 1);
});

test('the end of stream and a closed channel finish the session', () => {
  const session = new ViewerSession(CHANNEL);
  const events = session.receive(envelope(1, '', { type: 'transcript', end: true }));
  assert.deepEqual(events[1], { kind: 'finished', reason: 'end_of_stream' });
  assert.deepEqual(session.receive(envelope(2, 'too late')), []);
  const closed = new ViewerSession(CHANNEL);
  const msg = { type: 'unsubscribed', channel: CHANNEL, reason: 'channel_closed' };
  assert.deepEqual(closed.receive(JSON.stringify(msg)), [
    { kind: 'finished', reason: 'channel_closed' },
  ]);
});

test('frames outside the protocol are ignored', () => {
  const session = new ViewerSession(CHANNEL);
  for (const frame of ['not json', '[1]', 'null', '{"type":"pong"}', '{"seq":1,"response":{}}']) {
    assert.deepEqual(session.receive(frame), []);
  }
  assert.equal(session.position, null);
});

test('what follows a close', () => {
  assert.equal(afterClose(null, 'connection lost', false), 'resume');
  assert.equal(afterClose(1001, 'server shutting down', false), 'resume');
  assert.equal(afterClose(4008, 'too slow', false), 'resume');
  assert.equal(afterClose(4001, 'token_expired', true), 'reauth');
  assert.equal(afterClose(4001, 'token_expired', false), 'fail');
  assert.equal(afterClose(4003, 'origin_not_allowed', true), 'fail');
  assert.equal(afterClose(4004, 'unknown channel', true), 'fail');
});

test('a token is replaced a fifth of its life before it expires, at most a minute', () => {
  assert.equal(refreshTime(110, 100), 108);
  assert.equal(refreshTime(4000, 400), 3940);
  assert.equal(refreshTime(100, 120), 100);
});
