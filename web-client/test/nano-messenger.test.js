// NanoMessenger: nanoStream's calling conventions on top of CaptionClient and the overlay.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';

import { NanoMessenger } from '../src/nano-messenger.js';
import { FakeDocument, shownLines } from './support/fake-dom.js';
import { FakeCaptionServer } from './support/fake-server.js';

async function until(check) {
  for (let i = 0; i < 400 && !check(); i += 1) await sleep(10);
  assert.ok(check(), 'timed out');
}

function page() {
  const document = new FakeDocument();
  globalThis.document = document;
  return { document, element: document.element('caption-text') };
}

test('connect() calls onSuccess once and writes captions into overlayDiv', async (t) => {
  t.after(() => delete globalThis.document);
  const { element } = page();
  const server = new FakeCaptionServer();
  const messenger = new NanoMessenger('captions.example.com', 443, {
    overlayDiv: 'caption-text', WebSocket: server.WebSocket, tickMs: 0, maxBackoff: 50,
  });
  let successes = 0;
  messenger.connect('good', null, 'demo-en-en', () => { successes += 1; }, assert.fail);
  await until(() => successes === 1);
  assert.equal(messenger.client.channel, 'demo-en-en');
  assert.equal([...server.sockets][0].url, 'wss://captions.example.com/v1/ws');
  messenger.receiveMessage({ user: 'system', text: '<receiving messages>' });
  assert.deepEqual(shownLines(element), [['<receiving messages>', false]]);
  server.publish('Hello world');
  await until(() => element.textContent === 'Hello world');
  server.kick(1001, 'going away');
  server.publish('again');
  await until(() => element.textContent === 'Hello world again');
  assert.equal(successes, 1); // not again after the reconnection
  messenger.disconnect();
});

test('receiveMessage can be replaced to take the text', async (t) => {
  t.after(() => delete globalThis.document);
  const { element } = page();
  const server = new FakeCaptionServer();
  const messenger = new NanoMessenger('ws://127.0.0.1:8080', null, {
    overlayDiv: 'caption-text', WebSocket: server.WebSocket, tickMs: 0,
  });
  const received = [];
  messenger.receiveMessage = (message) => received.push(message);
  messenger.connect('good', 'viewer-7', 'demo-en-en');
  await until(() => messenger.client.state === 'live');
  server.publish('one two');
  await until(() => received.length === 1);
  assert.deepEqual(
    { user: received[0].user, channel: received[0].channel, text: received[0].text },
    { user: 'viewer-7', channel: 'demo-en-en', text: 'one two' },
  );
  assert.equal(element.children.length, 0);
  messenger.disconnect();
});

test('onError gets the close code, the reason and a sentence for the viewer', async () => {
  const server = new FakeCaptionServer();
  const messenger = new NanoMessenger('localhost', 8080, { WebSocket: server.WebSocket });
  const errors = [];
  messenger.connect('expired', null, 'demo-en-en', assert.fail, (error) => errors.push(error));
  await until(() => errors.length === 1);
  assert.equal(errors[0].code, 4001);
  assert.equal(errors[0].reason, 'token_expired');
  assert.match(errors[0].message, /expired/);
  assert.equal([...server.sockets].length, 0);
});
