// CaptionClient over the SDK's Subscription against an in-process fake server: states,
// resuming without loss or repeats, and refusals as CaptionErrors.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';

import { CaptionClient } from '../src/caption-client.js';
import { CaptionError } from '../src/errors.js';
import { FakeCaptionServer } from './support/fake-server.js';

async function until(check, what = 'condition') {
  for (let i = 0; i < 400 && !check(); i += 1) await sleep(10);
  assert.ok(check(), `timed out waiting for ${what}`);
}

function connect(server, options = {}) {
  const client = new CaptionClient({
    url: 'ws://fake/v1/ws', channel: 'demo-en-en', token: 'good', WebSocket: server.WebSocket,
    maxBackoff: 100, ...options,
  });
  const log = { captions: [], states: [], errors: [], ends: [] };
  client.on('caption', (c) => log.captions.push(c));
  client.on('state', (s) => log.states.push(s));
  client.on('error', (e) => log.errors.push(e));
  client.on('end', (e) => log.ends.push(e.reason));
  return { client, log };
}

test('resumes after the server goes away and comes back: every final once, in order', async () => {
  const server = new FakeCaptionServer();
  const { client, log } = connect(server);
  await until(() => client.state === 'live', 'live');
  server.publish('one');
  server.publish('two');
  await until(() => log.captions.length === 2);
  server.down = true;
  server.kick(1001, 'server shutting down');
  await until(() => client.state === 'reconnecting', 'reconnecting');
  server.publish('three'); // published while the viewer is away
  await sleep(400); // a refused attempt or two
  server.down = false;
  await until(() => log.captions.length === 3 && client.state === 'live', 'resumed');
  server.publish('four');
  await until(() => log.captions.length === 4);
  assert.deepEqual(log.captions.map((c) => c.text), ['one', 'two', 'three', 'four']);
  assert.deepEqual(log.captions.map((c) => c.seq), [1, 2, 3, 4]);
  assert.deepEqual(server.subscribes.at(-1).since, { seq: 2, epoch: 'e1' });
  const states = log.states.map((s) => s.state);
  assert.deepEqual([states[0], states.at(-2), states.at(-1)], ['live', 'reconnecting', 'live']);
  assert.equal(log.states.at(-1).recovered, true);
  assert.ok(client.reconnects >= 2, `${client.reconnects} reconnections`);
  client.close();
  assert.equal(client.state, 'closed');
});

test('a message the server repeats after a resume is not delivered twice', async () => {
  const server = new FakeCaptionServer();
  const { client, log } = connect(server);
  await until(() => client.state === 'live');
  const first = server.publish('once');
  await until(() => log.captions.length === 1);
  for (const socket of server.sockets) socket.deliver(first);
  server.publish('next');
  await until(() => log.captions.length === 2);
  assert.deepEqual(log.captions.map((c) => c.text), ['once', 'next']);
  client.close();
});

for (const [code, reason, words] of [
  [4001, 'token_expired', /expired/],
  [4003, 'token does not cover this stream', /does not allow the captions of demo/],
  [4004, 'unknown channel', /no caption channel named demo-en-en/],
]) {
  test(`a ${code} refusal stops the client with a CaptionError`, async () => {
    const server = new FakeCaptionServer();
    server.refuse = { code, reason };
    const { client, log } = connect(server);
    await until(() => log.errors.length === 1, 'the error');
    const [error] = log.errors;
    assert.ok(error instanceof CaptionError);
    assert.equal(error.code, code);
    assert.equal(error.reason, reason);
    assert.match(error.message, words);
    assert.equal(client.state, 'failed');
    await sleep(50);
    assert.equal(server.connections, 1); // no retry
  });
}

test('a token that expires on an open connection fails it when no fresh one can be had', async () => {
  const server = new FakeCaptionServer();
  const { client, log } = connect(server);
  await until(() => client.state === 'live');
  server.kick(4001, 'token_expired');
  await until(() => log.errors.length === 1);
  assert.equal(log.errors[0].reason, 'token_expired');
  assert.ok(!log.states.some((s) => s.state === 'reconnecting'));
});

test('with a token function it comes back after token_expired and resumes', async () => {
  const server = new FakeCaptionServer();
  let minted = 0;
  const { client, log } = connect(server, { token: async () => `fresh-${++minted}` });
  await until(() => client.state === 'live');
  server.publish('before');
  server.kick(4001, 'token_expired');
  server.publish('during');
  await until(() => log.captions.length === 2 && client.state === 'live');
  assert.deepEqual(log.captions.map((c) => c.text), ['before', 'during']);
  assert.equal(log.errors.length, 0);
  client.close();
});

test('the end of stream ends the client', async () => {
  const server = new FakeCaptionServer();
  const { client, log } = connect(server);
  await until(() => client.state === 'live');
  server.publish('', { end: true });
  await until(() => log.ends.length === 1);
  assert.deepEqual(log.ends, ['end_of_stream']);
  assert.equal(client.state, 'ended');
});
