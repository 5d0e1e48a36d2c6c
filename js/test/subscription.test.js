// Subscription against an in-process fake server: resuming, refreshing, refusals.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';

import WebSocket from 'ws';

import { SubscribeError, Subscription } from '../src/index.js';
import { FakeServer } from './support/fake-server.js';

let server;
let url;

before(async () => {
  server = new FakeServer();
  url = await server.start();
});
const opened = [];
after(() => {
  opened.forEach((sub) => sub.close()); // even when a test failed half-way
  return server.stop();
});

function subscribe(options) {
  const sub = new Subscription({ url, channel: 'demo-en-en', WebSocket, ...options });
  opened.push(sub);
  return sub;
}

async function until(check) {
  for (let i = 0; i < 500 && !check(); i += 1) await sleep(10);
  assert.ok(check(), 'timed out');
}

test('resumes after 1001 with every message once, in order, until the end of stream', async () => {
  server.history = [];
  const got = [];
  const ends = [];
  const sub = subscribe({
    token: 't', onCaption: (c) => got.push(c.text), onEnd: (end) => ends.push(end.reason),
  });
  await until(() => sub.position !== null);
  server.publish('one');
  await until(() => got.length === 1);
  server.kick(1001, 'server shutting down');
  server.publish('two');
  server.publish('three');
  await until(() => sub.reconnects === 1 && sub.recovered === true);
  server.publish('', { end: true });
  const position = await sub.done;
  assert.deepEqual(got, ['one', 'two', 'three']);
  assert.deepEqual(ends, ['end_of_stream']);
  assert.deepEqual(position, { seq: 4, epoch: 'e1' });
});

test('replaces a token function\'s token before it expires, on the same connection', async () => {
  const connections = server.connections;
  server.exp = () => Math.floor(Date.now() / 1000) + 1; // refreshed within a second
  let minted = 0;
  const sub = subscribe({ token: async () => `fresh-${++minted}` });
  await until(() => server.tokens.filter((t) => t.startsWith('fresh-')).length >= 3);
  sub.close();
  server.exp = () => Math.floor(Date.now() / 1000) + 3600;
  assert.equal(server.connections, connections + 1);
  assert.deepEqual(server.tokens.filter((t) => t.startsWith('fresh-')).slice(0, 3), [
    'fresh-1', 'fresh-2', 'fresh-3',
  ]);
  assert.equal(await sub.done, sub.position);
});

test('comes back with a new token after token_expired when it can get one', async () => {
  let minted = 0;
  const sub = subscribe({ token: async () => `again-${++minted}` });
  await until(() => sub.position !== null);
  server.kick(4001, 'token_expired');
  await until(() => minted === 2 && sub.recovered === true);
  sub.close();
  assert.equal(sub.reconnects, 1);
});

test('a refusal fails the subscription', async () => {
  const errors = [];
  const sub = subscribe({ token: 'refused', onError: (e) => errors.push(e) });
  await assert.rejects(sub.done, (e) => e instanceof SubscribeError && e.code === 4003);
  assert.equal(errors.length, 1);
  const expired = subscribe({ token: 'static' });
  await until(() => expired.position !== null);
  server.kick(4001, 'token_expired');
  await assert.rejects(expired.done, (e) => e.code === 4001 && e.reason === 'token_expired');
});
