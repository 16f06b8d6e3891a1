// WebSocket bench client through @coze/api (client.websockets.chat.create: reconnecting-websocket over
// the `ws` package in Node), the same work as bench/lua/ws.lua:
//   node ws.mjs URL session N   N appends of 640 bytes of PCM (base64 per chunk, as a user does) while
//                               the emulator answers each with one conversation.audio.delta, decoded
//                               with Buffer.from(content, 'base64')
//   node ws.mjs URL empty       connect, the created event, close
import { CozeAPI } from '@coze/api';

const [baseURL, mode, nArg] = process.argv.slice(2);
const n = Number(nArg || 0);
const client = new CozeAPI({ token: 'pat_bench', baseURL, baseWsURL: baseURL.replace(/^http/, 'ws') });
// 256 different chunks of noise taken in turn, as bench/lua/ws.lua (made in every mode)
const chunks = [];
for (let i = 0, seed = 12345; i < 256; i++) {
  const b = Buffer.alloc(640);
  for (let j = 0; j < 640; j++) { seed = (seed * 1103515245 + 12345) % 2147483648; b[j] = seed % 256; }
  chunks.push(b);
}
let deltas = 0, bytes = 0, seq = 0;

const ws = await client.websockets.chat.create(
  mode === 'session' ? { bot_id: 'bench', emu_echo_deltas: '1' } : { bot_id: 'bench' });
await new Promise((resolve, reject) => {
  ws.onerror = (e) => reject(new Error(JSON.stringify(e)));
  ws.onmessage = (data) => {
    const t = data.event_type;
    if (t === 'chat.created') {
      if (mode !== 'session') return resolve();
      // send in batches so the deltas are read while appending, as the Lua client does
      let i = 0;
      const batch = () => {
        for (let k = 0; k < 32 && i < n; k++, i++) {
          ws.send({ id: String(++seq), event_type: 'input_audio_buffer.append',
            data: { delta: chunks[i % 256].toString('base64') } });
        }
        if (i < n) setImmediate(batch);
        else ws.send({ id: String(++seq), event_type: 'input_audio_buffer.complete' });
      };
      batch();
    } else if (t === 'conversation.audio.delta') {
      deltas++;
      bytes += Buffer.from(data.data.content, 'base64').length;
    } else if (t === 'conversation.chat.completed') {
      resolve();
    }
  };
});
ws.close();
console.log(mode === 'session' ? `deltas=${deltas} bytes=${bytes}` : 'ok');
if (mode === 'session' && deltas < n) process.exit(1);
process.exit(0);
