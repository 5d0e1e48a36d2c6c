// Where the caption socket is, and what viewers are told when captions stop.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { describeClose } from '../src/errors.js';
import { sameServerSocketUrl, socketUrl } from '../src/urls.js';

test('socketUrl from a host and port, a URL, or the page', () => {
  const http = { pageProtocol: 'http:' };
  assert.equal(socketUrl('captions.example.com', 443, http), 'wss://captions.example.com/v1/ws');
  assert.equal(socketUrl('127.0.0.1', 8080, http), 'ws://127.0.0.1:8080/v1/ws');
  assert.equal(socketUrl('127.0.0.1', 8080, { pageProtocol: 'https:' }), 'wss://127.0.0.1:8080/v1/ws');
  assert.equal(socketUrl('h', '8443', { secure: true }), 'wss://h:8443/v1/ws');
  assert.equal(socketUrl('https://h.example', null), 'wss://h.example/v1/ws');
  assert.equal(socketUrl('http://h:9000/', 9001), 'ws://h:9001/v1/ws');
  assert.equal(socketUrl('ws://h/custom/ws', null), 'ws://h/custom/ws');
  assert.equal(sameServerSocketUrl('https://h:8080/embed/player.html?x=1'), 'wss://h:8080/v1/ws');
});

test('describeClose says what happened in words', () => {
  assert.match(describeClose(4001, 'token_expired', 'a-en-en'), /expired/);
  assert.match(describeClose(4001, 'token_bad_signature', 'a-en-en'), /refused \(token_bad_signature\)/);
  assert.match(describeClose(4003, 'origin_not_allowed', 'a-en-en'), /this website/);
  assert.match(describeClose(4004, 'unknown channel', 'news-en-de'), /news-en-de/);
  assert.match(describeClose(null, 'connection lost', 'a-en-en'), /Cannot reach/);
  assert.match(describeClose(4999, 'odd', 'a-en-en'), /4999 odd/);
});
