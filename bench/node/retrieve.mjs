// N sequential conversations.retrieve calls on one @coze/api client.
//   node retrieve.mjs URL N CONVERSATION_ID
// Prints "calls=<n> ok=<ok> conns=<new TCP connections opened by http.globalAgent>".
import http from 'node:http';
import { CozeAPI } from '@coze/api';

const [baseURL, nArg, convId] = process.argv.slice(2);
const n = Number(nArg);
// Count the sockets Node's default agent opens (axios' http adapter uses http.globalAgent).
let sockets = 0;
const agent = http.globalAgent;
const orig = agent.createConnection;
agent.createConnection = function (...args) { sockets++; return orig.apply(this, args); };

const client = new CozeAPI({ token: 'pat_bench', baseURL });
let ok = 0;
for (let i = 0; i < n; i++) {
  const conv = await client.conversations.retrieve(convId);
  if (conv.id === convId) ok++;
}
console.log(`calls=${n} ok=${ok} conns=${sockets} keepAlive=${agent.keepAlive}`);
if (ok !== n) process.exit(1);
