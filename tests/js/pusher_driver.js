// Drives real pusher-js clients for the Python end-to-end tests (tests/e2e/test_pusher_js.py).
//
// Commands arrive on stdin and results leave on stdout, one JSON object per line. Every
// command names a client by `id`; every output line carries that `id` and a `type`.
//
//   {"op": "connect", "id": "a", "key", "host", "port", "authEndpoint", "token"?, "forgeAuth"?}
//   {"op": "subscribe", "id": "a", "channel", "events": ["caption", ...]}
//   {"op": "trigger", "id": "a", "channel", "event", "data"}
//   {"op": "members", "id": "a", "channel"}
//   {"op": "unsubscribe", "id": "a", "channel"}
//   {"op": "disconnect", "id": "a"}
//
// Output types: state (connection state changes), connected (with socket_id), error,
// subscribed, subscription_error, event (a bound event: channel, event, data, user_id),
// member_added, member_removed, members, triggered.
'use strict';

const readline = require('node:readline');
const Pusher = require('pusher-js');

const clients = new Map();

function out(message) {
  process.stdout.write(JSON.stringify(message) + '\n');
}

function plainError(error) {
  // pusher-js errors may hold sockets or Error objects: keep what JSON can carry.
  if (error === null || typeof error !== 'object') return error;
  return {
    type: error.type,
    data: error.data,
    error: error.error && typeof error.error === 'object'
      ? { type: error.error.type, data: error.error.data, message: error.error.message }
      : error.error,
  };
}

function authorization(command) {
  if (command.forgeAuth) {
    // A client that signs with a wrong secret: the server must refuse its subscriptions.
    return {
      customHandler: (params, callback) => {
        callback(null, { auth: `${command.key}:${'0'.repeat(64)}` });
      },
    };
  }
  const headers = command.token ? { Authorization: `Bearer ${command.token}` } : {};
  return { endpoint: command.authEndpoint, transport: 'ajax', headers };
}

function connect(command) {
  const { id } = command;
  const pusher = new Pusher(command.key, {
    cluster: 'local', // required by pusher-js 8, unused with wsHost
    wsHost: command.host,
    wsPort: command.port,
    forceTLS: false,
    enabledTransports: ['ws'],
    disableStats: true,
    channelAuthorization: authorization(command),
  });
  const connection = pusher.connection;
  connection.bind('state_change', (states) => {
    out({ id, type: 'state', previous: states.previous, current: states.current });
  });
  connection.bind('connected', () => {
    out({ id, type: 'connected', socket_id: connection.socket_id });
  });
  connection.bind('error', (error) => out({ id, type: 'error', error: plainError(error) }));
  clients.set(id, pusher);
}

function subscribe(command) {
  const { id, channel: name } = command;
  const channel = clients.get(id).subscribe(name);
  channel.bind('pusher:subscription_succeeded', (data) => {
    const members = channel.members;
    const presence = members ? { count: members.count, me: members.me } : undefined;
    out({ id, type: 'subscribed', channel: name, presence });
  });
  channel.bind('pusher:subscription_error', (data) => {
    out({ id, type: 'subscription_error', channel: name, data });
  });
  channel.bind('pusher:member_added', (member) => {
    out({ id, type: 'member_added', channel: name, member });
  });
  channel.bind('pusher:member_removed', (member) => {
    out({ id, type: 'member_removed', channel: name, member });
  });
  for (const event of command.events || []) {
    channel.bind(event, (data, metadata) => {
      const userId = metadata ? metadata.user_id : undefined;
      out({ id, type: 'event', channel: name, event, data, user_id: userId });
    });
  }
}

const operations = {
  connect,
  subscribe,
  trigger: (c) => {
    const ok = clients.get(c.id).channel(c.channel).trigger(c.event, c.data);
    out({ id: c.id, type: 'triggered', channel: c.channel, ok });
  },
  members: (c) => {
    const members = clients.get(c.id).channel(c.channel).members;
    out({ id: c.id, type: 'members', channel: c.channel, count: members.count, me: members.me });
  },
  unsubscribe: (c) => clients.get(c.id).unsubscribe(c.channel),
  disconnect: (c) => clients.get(c.id).disconnect(),
};

const input = readline.createInterface({ input: process.stdin });
input.on('line', (line) => {
  if (!line.trim()) return;
  let command;
  try {
    command = JSON.parse(line);
    operations[command.op](command);
  } catch (error) {
    out({ id: command && command.id, type: 'driver_error', message: String(error) });
  }
});
input.on('close', () => {
  for (const pusher of clients.values()) pusher.disconnect();
  process.exit(0);
});
out({ type: 'ready', pusher: require('pusher-js/package.json').version });
