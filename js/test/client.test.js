// CaptionCast's REST calls against a recording fetch, and a viewer-only client.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';

import WebSocket from 'ws';

import { ApiError, CaptionCast } from '../src/index.js';
import { FakeServer } from './support/fake-server.js';

function recorder(status = 200, reply = {}) {
  const calls = [];
  const fetch = async (url, init) => {
    const body = init.body && JSON.parse(init.body);
    calls.push({ url, method: init.method, headers: init.headers, body });
    return new Response(status === 204 ? null : JSON.stringify(reply), { status });
  };
  return { calls, fetch };
}

test('createFlow maps Timbra-like options to the REST body', async () => {
  const { calls, fetch } = recorder(201, { flow_id: 'f1' });
  const cc = new CaptionCast('key', { url: 'http://server:8080/', fetch });
  const flow = await cc.createFlow({
    name: 'news', source: 'srt_push', sourceLanguage: 'en', targetLanguages: ['de'],
    output: 'websocket', maxLatency: 3, caption: { maxLines: 1 },
  });
  assert.equal(flow.flow_id, 'f1');
  assert.deepEqual(calls[0], {
    url: 'http://server:8080/v1/flows', method: 'POST',
    headers: { Authorization: 'Bearer key', 'Content-Type': 'application/json' },
    body: {
      name: 'news', source: 'srt_push', source_language: 'en', target_languages: ['de'],
      max_latency: 3, caption: { max_lines: 1 },
    },
  });
  assert.throws(() => cc.createFlow({ name: 'x', output: 'hls' }), TypeError);
});

test('calls use the flow id, and errors carry status and code', async () => {
  const { calls, fetch } = recorder(409, {
    error: { code: 'invalid_transition', message: 'cannot start a flow that is live' },
  });
  const cc = new CaptionCast('key', { url: 'http://server', fetch });
  await assert.rejects(cc.startFlow({ flow_id: 'a/b' }), (error) => error instanceof ApiError
    && error.status === 409 && error.code === 'invalid_transition');
  assert.equal(calls[0].url, 'http://server/v1/flows/a%2Fb/start');
  const gone = new CaptionCast('key', { url: 'http://server', fetch: recorder(204).fetch });
  assert.equal(await gone.deleteFlow('f1'), undefined);
});

test('a client without an API key subscribes with a viewer token', async () => {
  const server = new FakeServer();
  const url = await server.start();
  try {
    const http = url.replace('ws', 'http').replace('/v1/ws', '');
    const viewer = new CaptionCast(null, { url: http, WebSocket });
    assert.throws(() => viewer.subscribe({ channel: 'demo-en-en' }), TypeError);
    const got = [];
    const sub = viewer.subscribe({
      channel: 'demo-en-en', token: 'viewer', onCaption: (c) => got.push(c.text),
    });
    while (!sub.position) await sleep(10);
    server.publish('hello');
    server.publish('', { end: true });
    await sub.done;
    assert.deepEqual(got, ['hello']);
    assert.deepEqual(server.tokens, ['viewer']);
  } finally {
    await server.stop();
  }
});
