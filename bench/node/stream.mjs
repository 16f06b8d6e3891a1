// Streams one chat of N delta events through @coze/api (client.chat.stream, async iterator).
//   node stream.mjs URL N
// Reads chunk.event and chunk.data.content of every delta (the SDK JSON-parses every event itself;
// it has no relay path). Prints "events=<n> deltas=<d> bytes=<b>".
import { CozeAPI } from '@coze/api';

const [baseURL, nArg] = process.argv.slice(2);
const n = Number(nArg);
const client = new CozeAPI({ token: 'pat_bench', baseURL });
let events = 0, deltas = 0, bytes = 0;
const stream = await client.chat.stream(
  { bot_id: 'bench_bot', user_id: 'bench_user', additional_messages: [] },
  { headers: { 'X-Emu-Deltas': String(n), 'X-Emu-Reply': '"hello "', 'X-Emu-Completed': 'short' } });
for await (const chunk of stream) {
  events++;
  if (chunk.event === 'conversation.message.delta') {
    deltas++;
    bytes += chunk.data.content.length;
  }
}
console.log(`events=${events} deltas=${deltas} bytes=${bytes}`);
if (deltas !== n) process.exit(1);
