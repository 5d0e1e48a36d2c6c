#!/usr/bin/env node
// Create a flow, start it, and print its captions as JSON lines until its end of stream.
//
//   CAPTIONCAST_API_KEY=… node examples/live-captions.mjs [--url http://127.0.0.1:8080]
//       [--name demo] [--source rtmp_push|srt_push] [--transcripts]
//
// It prints {"event": "ready", "publish": URL, …} once subscribed: push a stream there (OBS,
// ffmpeg). Close stdin (Ctrl-D) or press Ctrl-C to stop the flow; the captions still on the
// way arrive, then {"event": "end"} and it exits.
import { parseArgs } from 'node:util';

import { CaptionCast } from 'captioncast';

const { values: args } = parseArgs({
  options: {
    url: { type: 'string', default: 'http://127.0.0.1:8080' },
    name: { type: 'string', default: 'demo' },
    source: { type: 'string', default: 'rtmp_push' },
    transcripts: { type: 'boolean', default: false },
  },
});
const print = (event, fields) => console.log(JSON.stringify({ event, ...fields }));

const cc = new CaptionCast(process.env.CAPTIONCAST_API_KEY, { url: args.url });
const flow = await cc.createFlow({
  name: args.name, source: args.source, sourceLanguage: 'en', output: 'websocket',
});
await cc.startFlow(flow.flow_id);

const show = (caption) => print(caption.type === 'captions' ? 'caption' : 'transcript', {
  seq: caption.seq, text: caption.text, lines: caption.lines, start: caption.start,
  end: caption.end, final: caption.isFinal,
});
const subscription = cc.subscribe({
  flowId: flow.flow_id,
  onSubscribed: ({ recovered }) => print('ready', {
    flow_id: flow.flow_id, channel: subscription.channel, recovered,
    publish: (flow.rtmp_details ?? flow.srt_details).full_url,
  }),
  onCaption: show,
  onTranscript: args.transcripts ? show : undefined,
  onGap: (gap) => print('gap', gap),
  onEnd: ({ reason }) => print('end', { reason, reconnects: subscription.reconnects }),
  onError: (error) => print('error', { message: error.message, code: error.code }),
});

let stopping = false;
function stop() {
  if (stopping) return;
  stopping = true;
  cc.stopFlow(flow.flow_id) // the end of stream follows on the channel
    .catch((error) => print('error', { message: error.message, code: error.code }));
}
process.on('SIGINT', stop);
process.stdin.on('end', stop).resume();

try {
  await subscription.done;
} catch {
  process.exitCode = 1;
}
process.stdin.destroy();
