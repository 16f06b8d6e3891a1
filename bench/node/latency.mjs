// Latency from the server writing an event (its CLOCK_MONOTONIC send time is in the data) to
// @coze/api's async iterator yielding it, measured with process.hrtime.bigint() (CLOCK_MONOTONIC).
//   node latency.mjs URL
// Prints "n=<events> median_us=<..> p99_us=<..> max_us=<..>".
import { CozeAPI } from '@coze/api';

const [baseURL] = process.argv.slice(2);
const client = new CozeAPI({ token: 'pat_bench', baseURL });
const lat = [];
const stream = await client.chat.stream({ bot_id: 'bench_bot', user_id: 'bench_user', additional_messages: [] });
for await (const chunk of stream) {
  const t = process.hrtime.bigint();
  if (chunk.event === 'conversation.message.delta') {
    lat.push(Number(t - BigInt(chunk.data.mono_ns)) / 1000);
  }
}
lat.sort((a, b) => a - b);
const n = lat.length;
const pct = (p) => lat[Math.max(0, Math.ceil(p * n) - 1)];
console.log(`n=${n} median_us=${pct(0.5).toFixed(1)} p99_us=${pct(0.99).toFixed(1)} max_us=${lat[n - 1].toFixed(1)}`);
