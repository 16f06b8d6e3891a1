#!/usr/bin/env bash
# Smoke checks of the local Coze emulator's chat/conversation handlers, auth and fault injection, with curl.
#   COZE_EMU_PORT=18500 spec/emulator/smoke.sh
# Starts the emulator when it is not running (and stops it again at the end). Exits non-zero on any failure.
# SMOKE_BIG=0 skips the 1,000,000-delta timing.
set -u
export LC_ALL=C
here=$(cd "$(dirname "$0")" && pwd)
export COZE_EMU_PORT=${COZE_EMU_PORT:-18500}
U="http://127.0.0.1:$COZE_EMU_PORT"
UT="https://127.0.0.1:$((COZE_EMU_PORT + 1))"
AUTH='Authorization: Bearer pat_smoke'
T=$(mktemp -d)
started=0
if ! "$here/ctl" status >/dev/null 2>&1; then "$here/ctl" start >/dev/null || exit 1; started=1; fi
cleanup() { rm -rf "$T"; [ "$started" = 1 ] && "$here/ctl" stop; }
trap cleanup EXIT

pass=0; fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }
# check NAME COMMAND... : passes when the command succeeds
check() { local name=$1; shift; if "$@"; then ok; else bad "$name"; fi; }
has() { grep -q -- "$2" "$1"; }              # file contains regex
hasF() { grep -qF -- "$2" "$1"; }            # file contains fixed string
count() { grep -c -- "$2" "$1"; }            # lines matching
eq() { [ "$1" = "$2" ] || { echo "  expected '$2', got '$1'" >&2; return 1; }; }
ge() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a >= b) }' || { echo "  expected >= $2, got $1" >&2; return 1; }; }
field() { grep -o "[{,]\"$2\":\"[^\"]*\"" "$1" | head -1 | sed 's/.*:"\(.*\)"$/\1/'; }   # first string field
num() { grep -o "[{,]\"$2\":-\{0,1\}[0-9]*" "$1" | head -1 | sed 's/.*://'; }          # first integer field

# req OUT METHOD PATH [curl args...] : body -> $T/OUT, headers -> $T/OUT.h; sets $status and $rc
req() {
  local out=$1 method=$2 path=$3; shift 3
  status=$(curl -s -o "$T/$out" -D "$T/$out.h" -w '%{http_code}' -X "$method" "$U$path" "$@"); rc=$?
}
# sse OUT BODY [curl args...] : streams POST /v3/chat into $T/OUT; sets $rc and $secs
sse_path() {
  local out=$1 path=$2 body=$3; shift 3
  local t0; t0=$(date +%s.%N)
  : > "$T/$out"
  curl -sN -o "$T/$out" -D "$T/$out.h" -X POST "$U$path" -H "$AUTH" -H 'Content-Type: application/json' -d "$body" "$@"; rc=$?
  secs=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.3f", b - a }')
}
sse() { local out=$1; shift; sse_path "$out" /v3/chat "$@"; }
STREAM='{"bot_id":"bot_1","user_id":"u1","stream":true,"additional_messages":[{"role":"user","content":"hi there","content_type":"text"}]}'
events() { grep -c '^event:' "$T/$1"; }

curl -s -X POST "$U/__emu/reset" >/dev/null

# --- control ------------------------------------------------------------------------------------------
req ping GET /__emu/ping
check "ping" eq "$(cat "$T/ping")" pong

# --- auth -----------------------------------------------------------------------------------------------
req a1 GET "/v1/conversation/retrieve?conversation_id=1"
check "auth: missing header -> 401" eq "$status" 401
check "auth: missing header -> 4100" hasF "$T/a1" '"code":4100'
check "auth: 4100 msg" hasF "$T/a1" 'authentication is invalid'
req a2 GET "/v1/conversation/retrieve?conversation_id=1" -H 'Authorization: Basic abc'
check "auth: malformed -> 401/4100" eq "$status:$(num "$T/a2" code)" 401:4100
req a3 GET "/v1/conversation/retrieve?conversation_id=1" -H 'Authorization: Bearer invalid'
check "auth: invalid -> 401/4101" eq "$status:$(num "$T/a3" code)" 401:4101
check "auth: 4101 msg" hasF "$T/a3" 'token invalid'
req a4 GET "/v1/conversation/retrieve?conversation_id=1" -H 'Authorization: Bearer czs_unknown'
check "auth: unknown czs_ -> 401/4100" eq "$status:$(num "$T/a4" code)" 401:4100
curl -s -X POST "$U/__emu/token" -d '{"token":"czs_good","expires_in":600}' >/dev/null
curl -s -X POST "$U/__emu/token" -d '{"token":"emu_oauth_old","expires_in":-5}' >/dev/null
req a5 GET "/v1/conversation/retrieve?conversation_id=1" -H 'Authorization: Bearer czs_good'
check "auth: registered czs_ passes auth (4002 next)" eq "$status:$(num "$T/a5" code)" 200:4002
req a6 GET "/v1/conversation/retrieve?conversation_id=1" -H 'Authorization: Bearer emu_oauth_old'
check "auth: expired emu_oauth_ -> 401/4100" eq "$status:$(num "$T/a6" code)" 401:4100
check "auth: error carries X-Tt-Logid" has "$T/a6.h" '^X-Tt-Logid: '

# --- conversations --------------------------------------------------------------------------------------
req c1 POST /v1/conversation/create -H "$AUTH" -d '{"bot_id":"bot_1","meta_data":{"k":"v"}}'
conv=$(field "$T/c1" id)
check "conv create: 200 code 0" eq "$status:$(num "$T/c1" code)" 200:0
check "conv create: 19-digit id" has "$T/c1" '"id":"[0-9]\{19\}"'
check "conv create: last_section_id" has "$T/c1" '"last_section_id":"[0-9]\{19\}"'
check "conv create: created_at int" has "$T/c1" '"created_at":[0-9]\{10\}'
check "conv create: meta_data echoed" hasF "$T/c1" '"meta_data":{"k":"v"}'
logid=$(sed -n 's/^X-Tt-Logid: \([^\r]*\).*/\1/p' "$T/c1.h")
check "conv create: logid header = detail.logid" hasF "$T/c1" "\"detail\":{\"logid\":\"$logid\"}"
req c2 GET "/v1/conversation/retrieve?conversation_id=$conv" -H "$AUTH"
check "conv retrieve: same id" eq "$(field "$T/c2" id):$(num "$T/c2" code)" "$conv:0"
req c3 GET "/v1/conversation/retrieve?conversation_id=123" -H "$AUTH"
check "conv retrieve unknown -> 4002" eq "$(num "$T/c3" code)" 4002
check "conv retrieve unknown msg" hasF "$T/c3" 'invalid conversation'
req c4 POST /v1/conversation/create -H "$AUTH" -d '{}'
check "conv create empty body" eq "$(num "$T/c4" code)" 0
t0=$(date +%s.%N)
for _ in $(seq 200); do echo "url = \"$U/v1/conversation/retrieve?conversation_id=$conv\""; echo 'header = "'"$AUTH"'"'; echo 'output = "/dev/null"'; done > "$T/cfg"
curl -s -K "$T/cfg"
ms=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%d", (b - a) * 1000 }')
echo "info: 200 conversation retrieves over one connection: ${ms} ms"

# --- chat: streaming ---------------------------------------------------------------------------------------
sse s1 "$STREAM"
check "stream: exit 0" eq "$rc" 0
check "stream: content type" has "$T/s1.h" '^Content-Type: text/event-stream'
check "stream: logid header" has "$T/s1.h" '^X-Tt-Logid: '
check "stream: created" eq "$(count "$T/s1" '^event:conversation.chat.created$')" 1
check "stream: in_progress" eq "$(count "$T/s1" '^event:conversation.chat.in_progress$')" 1
check "stream: 5 deltas (4 chars each)" eq "$(count "$T/s1" '^event:conversation.message.delta$')" 5
check "stream: 2 message.completed" eq "$(count "$T/s1" '^event:conversation.message.completed$')" 2
check "stream: chat.completed" eq "$(count "$T/s1" '^event:conversation.chat.completed$')" 1
check "stream: done last" eq "$(tail -n 3 "$T/s1" | head -c 30)" $'event:done\ndata:"[DONE]"'
check "stream: answer text" hasF "$T/s1" '"content":"You said: hi there"'
check "stream: verbose" hasF "$T/s1" '"content":"{\"msg_type\":\"generate_answer_finish\",\"data\":\"{\\\"finish_reason\\\":0}\",\"from_module\":null,\"from_unit\":null}"'
check "stream: usage" has "$T/s1" '"usage":{[^}]*"token_count":[1-9]'
check "stream: deltas concatenate" eq "$(grep '^data:.*"content":' "$T/s1" | grep -F '"type":"answer"' | grep -vF '"created_at"' | sed 's/.*"content":"\(.*\)"}$/\1/' | tr -d '\n')" "You said: hi there"
chat=$(grep -A1 '^event:conversation.chat.completed' "$T/s1" | field /dev/stdin id)
sconv=$(grep -A1 '^event:conversation.chat.completed' "$T/s1" | field /dev/stdin conversation_id)
req s1r GET "/v3/chat/retrieve?conversation_id=$sconv&chat_id=$chat" -H "$AUTH"
check "stream: implicit conversation retrievable" eq "$(curl -s "$U/v1/conversation/retrieve?conversation_id=$sconv" -H "$AUTH" | sed -n 's/.*"code":\([0-9]*\).*/\1/p')" 0
check "stream: stored chat completed" hasF "$T/s1r" '"status":"completed"'

sse s2 '{"bot_id":"bot_1","user_id":"u1","stream":true}' -H 'X-Emu-Deltas: 3' -H 'X-Emu-Reply: %E4%BD%A0%E5%A5%BD, world!'
check "X-Emu-Deltas 3" eq "$(count "$T/s2" '^event:conversation.message.delta$')" 3
check "X-Emu-Reply percent-decoded" hasF "$T/s2" '"content":"你好, world!"'
sse s3 "$STREAM" -H 'X-Emu-Deltas: 5' -H 'X-Emu-Reply: "ab "'
check "deltas > chars: 5 deltas" eq "$(count "$T/s3" '"content":"ab "}$')" 5
check "deltas > chars: completed = concatenation" hasF "$T/s3" '"content":"ab ab ab ab ab "'
sse s5 '{"bot_id":"bot_1","user_id":"u1","stream":true}'
check "no user message -> Hello" hasF "$T/s5" '"content":"Hello"'
sse_path s6 "/v3/chat?conversation_id=$conv" "$STREAM"
check "stream: conversation_id from query" hasF "$T/s6" "\"conversation_id\":\"$conv\""
sse s7 "$STREAM" -H 'X-Emu-Drip-Ms: 60' -H 'X-Emu-Deltas: 3'
check "drip: >= 8 gaps of 60ms" ge "$secs" 0.45

sse s8 '{"bot_id":"bot_requires_action","user_id":"u1","stream":true}'
check "requires_action: event" eq "$(count "$T/s8" '^event:conversation.chat.requires_action$')" 1
check "requires_action: tool call" hasF "$T/s8" '"tool_calls":[{'
check "requires_action: arguments" hasF "$T/s8" '"arguments":"{\"city\":\"Beijing\"}"'
check "requires_action: then done" eq "$(events s8)" 4
rchat=$(grep -A1 '^event:conversation.chat.created' "$T/s8" | field /dev/stdin id)
rconv=$(grep -A1 '^event:conversation.chat.created' "$T/s8" | field /dev/stdin conversation_id)
req r1 GET "/v3/chat/retrieve?conversation_id=$rconv&chat_id=$rchat" -H "$AUTH"
check "requires_action: stored" hasF "$T/r1" '"status":"requires_action"'
req r2 GET "/v3/chat/message/list?conversation_id=$rconv&chat_id=$rchat" -H "$AUTH"
check "requires_action: message list has function_call" hasF "$T/r2" '"type":"function_call"'
sse_path st1 "/v3/chat/submit_tool_outputs?conversation_id=$rconv&chat_id=$rchat" '{"stream":true,"tool_outputs":[{"tool_call_id":"call_1","output":"sunny"}]}'
check "submit stream: answer" hasF "$T/st1" '"content":"Tool said: sunny"'
check "submit stream: completed + done" eq "$(count "$T/st1" '^event:conversation.chat.completed$'):$(count "$T/st1" '^event:done$')" 1:1
check "submit stream: same chat id" hasF "$T/st1" "\"chat_id\":\"$rchat\""
req r3 POST "/v3/chat/retrieve?conversation_id=$rconv&chat_id=$rchat" -H "$AUTH"
check "retrieve via POST after submit: completed" hasF "$T/r3" '"status":"completed"'
req r4 POST "/v3/chat/submit_tool_outputs?conversation_id=$rconv&chat_id=$rchat" -H "$AUTH" -d '{"tool_outputs":[{"tool_call_id":"call_1","output":"x"}]}'
check "submit on completed chat -> 4000" eq "$(num "$T/r4" code)" 4000
check "submit on completed chat msg" hasF "$T/r4" 'requires_action'
req r5 POST "/v3/chat/submit_tool_outputs?conversation_id=$rconv&chat_id=$rchat" -H "$AUTH" -d '{}'
check "submit without tool_outputs -> 4000 naming it" eq "$(num "$T/r5" code):$(grep -c tool_outputs "$T/r5")" 4000:1

sse s9 '{"bot_id":"bot_failed","user_id":"u1","stream":true}'
check "failed: event" eq "$(count "$T/s9" '^event:conversation.chat.failed$')" 1
check "failed: last_error" eq "$(grep -c '"last_error":{[^}]*"code":4013' "$T/s9"):$(grep -c '"last_error":{[^}]*"msg":"模型错误"' "$T/s9")" 1:1
check "failed: done" eq "$(count "$T/s9" '^event:done$')" 1

# --- chat: non-streaming + polling ---------------------------------------------------------------------------
req n1 POST /v3/chat -H "$AUTH" -d '{"bot_id":"bot_1","user_id":"u1","additional_messages":[{"role":"user","content":"poll me","content_type":"text"}]}'
nchat=$(field "$T/n1" id); nconv=$(field "$T/n1" conversation_id)
check "non-stream: in_progress" eq "$(field "$T/n1" status):$(num "$T/n1" code)" in_progress:0
check "non-stream: json" has "$T/n1.h" '^Content-Type: application/json'
req n2 GET "/v3/chat/retrieve?conversation_id=$nconv&chat_id=$nchat" -H "$AUTH"
check "poll 1: in_progress" eq "$(field "$T/n2" status)" in_progress
req n2 GET "/v3/chat/retrieve?conversation_id=$nconv&chat_id=$nchat" -H "$AUTH"
check "poll 2: completed" eq "$(field "$T/n2" status)" completed
check "poll 2: usage + completed_at" has "$T/n2" '"completed_at":[0-9]'
req n3 GET "/v3/chat/message/list?conversation_id=$nconv&chat_id=$nchat" -H "$AUTH"
check "message list: bare array of 3" eq "$(grep -o '"type":"[a-z_]*"' "$T/n3" | tr '\n' ' ')" '"type":"answer" "type":"verbose" "type":"follow_up" '
check "message list: data is array" hasF "$T/n3" '"data":[{'
check "message list: full answer" hasF "$T/n3" '"content":"You said: poll me"'
req n4 GET "/v3/chat/message/list?conversation_id=$nconv&chat_id=1" -H "$AUTH"
check "message list unknown -> 4001" eq "$(num "$T/n4" code)" 4001
req n5 GET "/v3/chat/retrieve?conversation_id=$nconv&chat_id=42" -H "$AUTH"
check "retrieve unknown -> 4001 Invalid chat" eq "$(num "$T/n5" code):$(grep -c 'Invalid chat' "$T/n5")" 4001:1
req n6 POST /v3/chat -H "$AUTH" -H 'X-Emu-Poll-Steps: 0' -d '{"bot_id":"bot_1","user_id":"u1"}'
req n7 GET "/v3/chat/retrieve?conversation_id=$(field "$T/n6" conversation_id)&chat_id=$(field "$T/n6" id)" -H "$AUTH"
check "poll steps 0: first retrieve completed" eq "$(field "$T/n7" status)" completed
req n8 POST /v3/chat -H "$AUTH" -H 'X-Emu-Poll-Steps: 1' -d '{"bot_id":"bot_failed","user_id":"u1"}'
req n9 GET "/v3/chat/retrieve?conversation_id=$(field "$T/n8" conversation_id)&chat_id=$(field "$T/n8" id)" -H "$AUTH"
check "non-stream failed: last_error" eq "$(field "$T/n9" status):$(grep -c '"code":4013' "$T/n9")" failed:1

req d1 POST /v3/chat -H "$AUTH" -d '{"bot_id":"bot_never_done","user_id":"u1"}'
dchat=$(field "$T/d1" id); dconv=$(field "$T/d1" conversation_id)
for _ in 1 2 3 4 5; do req d2 GET "/v3/chat/retrieve?conversation_id=$dconv&chat_id=$dchat" -H "$AUTH"; done
check "never_done: still in_progress" eq "$(field "$T/d2" status)" in_progress
req d3 POST /v3/chat/cancel -H "$AUTH" -d "{\"conversation_id\":\"$dconv\",\"chat_id\":\"$dchat\"}"
check "cancel -> canceled" eq "$(field "$T/d3" status):$(num "$T/d3" code)" canceled:0
req d4 GET "/v3/chat/retrieve?conversation_id=$dconv&chat_id=$dchat" -H "$AUTH"
check "retrieve after cancel -> canceled" eq "$(field "$T/d4" status)" canceled
req d5 POST /v3/chat/cancel -H "$AUTH" -d "{\"conversation_id\":\"$dconv\",\"chat_id\":\"9\"}"
check "cancel unknown -> 4001" eq "$(num "$T/d5" code)" 4001

req q1 POST /v3/chat -H "$AUTH" -H 'X-Emu-Poll-Steps: 1' -d '{"bot_id":"bot_requires_action","user_id":"u1"}'
qchat=$(field "$T/q1" id); qconv=$(field "$T/q1" conversation_id)
req q2 POST "/v3/chat/submit_tool_outputs?conversation_id=$qconv&chat_id=$qchat" -H "$AUTH" -d '{"tool_outputs":[{"tool_call_id":"call_1","output":"rain"}]}'
check "submit before requires_action reached -> 4000" eq "$(num "$T/q2" code)" 4000
req q3 GET "/v3/chat/retrieve?conversation_id=$qconv&chat_id=$qchat" -H "$AUTH"
check "non-stream requires_action" hasF "$T/q3" '"required_action":{'
req q4 POST "/v3/chat/submit_tool_outputs?conversation_id=$qconv&chat_id=$qchat" -H "$AUTH" -H 'X-Emu-Poll-Steps: 1' -d '{"tool_outputs":[{"tool_call_id":"call_1","output":"rain"}]}'
check "submit non-stream -> in_progress" eq "$(field "$T/q4" status)" in_progress
req q5 GET "/v3/chat/retrieve?conversation_id=$qconv&chat_id=$qchat" -H "$AUTH"
check "after submit + poll -> completed" eq "$(field "$T/q5" status)" completed
req q6 GET "/v3/chat/message/list?conversation_id=$qconv&chat_id=$qchat" -H "$AUTH"
check "after submit: message list answer" hasF "$T/q6" '"content":"Tool said: rain"'

# --- chat: validation -------------------------------------------------------------------------------------
req v1 POST /v3/chat -H "$AUTH" -d '{"user_id":"u1"}'
check "missing bot_id -> 4000 naming it" eq "$(num "$T/v1" code):$(grep -c bot_id "$T/v1")" 4000:1
req v2 POST /v3/chat -H "$AUTH" -d '{"bot_id":"b"}'
check "missing user_id -> 4000 naming it" eq "$(num "$T/v2" code):$(grep -c user_id "$T/v2")" 4000:1
req v3 POST /v3/chat -H "$AUTH" -d '{"bot_id":"b","user_id":"u","stream":false,"auto_save_history":false}'
check "stream false + no history -> 4007" eq "$(num "$T/v3" code):$(grep -c '流false仅在自动保存为true时允许' "$T/v3")" 4007:1
req v4 POST /v3/chat -H "$AUTH" -d '{"bot_id":'
check "malformed body -> 4000" eq "$(num "$T/v4" code)" 4000
req v5 POST /v3/chat -d '{"bot_id":"b","user_id":"u","stream":true}'
check "stream without auth -> 401 JSON" eq "$status:$(grep -c text/event-stream "$T/v5.h")" 401:0
req v6 GET /v3/nowhere -H "$AUTH"
check "unknown route -> 404" eq "$status" 404

# --- request log ------------------------------------------------------------------------------------------
req l1 GET "/__emu/requests?n=1"
check "request log records last API call" has "$T/l1" '"path":"\\\{0,1\}/v3\\\{0,1\}/nowhere"'

# --- TLS --------------------------------------------------------------------------------------------------
check "TLS port serves the API" eq "$(curl -sk "$UT/v1/conversation/retrieve?conversation_id=$conv" -H "$AUTH" | sed -n 's/.*"code":\([0-9]*\).*/\1/p')" 0

# --- request-level faults -------------------------------------------------------------------------------
F() { echo "X-Emu-Fault: $1"; }
req f1 GET "/v1/conversation/retrieve?conversation_id=$conv" -H "$AUTH" -H "$(F '429;retry_after=2')"
check "429: status" eq "$status" 429
check "429: Retry-After 2" has "$T/f1.h" '^Retry-After: 2'
check "429: code 4009" eq "$(num "$T/f1" code)" 4009
check "429: msg" hasF "$T/f1" '已达系统请求上限，请稍后重试'
req f2 GET "/v1/conversation/retrieve?conversation_id=$conv" -H "$AUTH" -H "$(F '429;retry_after_date=2')"
check "429: Retry-After HTTP-date" has "$T/f2.h" '^Retry-After: [A-Z][a-z][a-z], [0-9][0-9] [A-Z][a-z][a-z] 20[0-9][0-9] [0-9:]* GMT'
req f3 GET "/v1/conversation/retrieve?conversation_id=$conv" -H "$AUTH" -H "$(F 'status;code=503')"
check "status 503: envelope 5000" eq "$status:$(num "$T/f3" code)" 503:5000
check "status 503: logid" has "$T/f3.h" '^X-Tt-Logid: '
req f4 GET "/v1/conversation/retrieve?conversation_id=$conv" -H "$AUTH" -H "$(F 'status;code=502;body=html')"
check "status 502 html" eq "$status:$(grep -c '^Content-Type: text/html' "$T/f4.h")" 502:1
check "status html body" hasF "$T/f4" '<html>'
req f5 POST /v3/chat -H "$AUTH" -H "$(F malformed_json)" -d "$STREAM"
check "malformed_json: 200 json" eq "$status:$(grep -c '^Content-Type: application/json' "$T/f5.h")" 200:1
check "malformed_json: truncated body" eq "$(cat "$T/f5")" '{"code":0,"msg":"","data":{"id":'
req f6 POST /v3/chat -H "$AUTH" -H "$(F 'json_error;code=4101;msg=no%20access;status=401')" -d "$STREAM"
check "json_error on stream request" eq "$status:$(num "$T/f6" code):$(grep -c 'application/json' "$T/f6.h")" 401:4101:1
check "json_error msg" hasF "$T/f6" '"msg":"no access"'
t0=$(date +%s.%N)
req f7 GET "/v1/conversation/retrieve?conversation_id=$conv" -H "$AUTH" -H "$(F 'slow_headers;ms=300')"
secs=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.3f", b - a }')
check "slow_headers: waits" ge "$secs" 0.3
check "slow_headers: then normal" eq "$status:$(num "$T/f7" code)" 200:0
req f8 GET "/v1/conversation/retrieve?conversation_id=$conv" -H "$AUTH" -H "$(F content_length_lie)"
check "content_length_lie: curl exit 18" eq "$rc" 18
req f9 GET "/v1/conversation/retrieve?conversation_id=$conv" -H "$AUTH" -H "$(F invalid_utf8)"
check "invalid_utf8: code 0" eq "$(num "$T/f9" code)" 0
check "invalid_utf8: bytes invalid" eval "! iconv -f UTF-8 -t UTF-8 '$T/f9' >/dev/null 2>&1"
codes=""
for _ in 1 2 3; do
  codes="$codes$(curl -s -o /dev/null -w '%{http_code}' "$U/v1/conversation/retrieve?conversation_id=$conv" -H "$AUTH" \
    -H "$(F '429;retry_after=0;times=2')" -H 'X-Emu-Fault-Key: smoke-times') "
done
check "times=2: 429 429 200" eq "$codes" "429 429 200 "
codes=""
for _ in 1 2; do
  codes="$codes$(curl -s -o /dev/null -w '%{http_code}' "$U/v1/conversation/retrieve?conversation_id=$conv" -H "$AUTH" \
    -H "$(F 'status;code=500;times=1')" -H 'X-Emu-Fault-Key: smoke-times-2') "
done
check "times=1, other key: 500 200" eq "$codes" "500 200 "

# --- stream-level faults -------------------------------------------------------------------------------
N=$(events s1)   # events in a normal stream of $STREAM (11)
sse g1 "$STREAM" -H "$(F 'reset;after=3')"
check "reset: curl error 18" eq "$rc" 18
check "reset: 3 events" eq "$(events g1)" 3
sse g2 "$STREAM" -H "$(F no_done)"
check "no_done: exit 0, no done" eq "$rc:$(count "$T/g2" '^event:done')" 0:0
check "no_done: other events" eq "$(events g2)" $((N - 1))
sse g3 "$STREAM" -H "$(F 'error_event;after=2;code=4013;msg=%E6%A8%A1%E5%9E%8B%E9%94%99%E8%AF%AF')"
check "error_event: 3 events, last error" eq "$rc:$(events g3):$(grep '^event:' "$T/g3" | tail -1)" 0:3:event:error
check "error_event: data" hasF "$T/g3" '"code":4013'
check "error_event: msg" hasF "$T/g3" '模型错误'
sse g4 "$STREAM" -H "$(F 'stall;after=2;ms=400')"
check "stall: pauses" ge "$secs" 0.4
check "stall: completes" eq "$rc:$(events g4)" "0:$N"
sse g5 "$STREAM" -H "$(F split)"
check "split: complete stream" eq "$rc:$(events g5):$(count "$T/g5" '^event:done$')" "0:$N:1"
sse g6 "$STREAM" -H "$(F crlf)"
check "crlf: CRLF line ends" eq "$(tr -cd '\r' < "$T/g6" | wc -c)" "$(tr -cd '\n' < "$T/g6" | wc -c)"
check "crlf: has CR" ge "$(tr -cd '\r' < "$T/g6" | wc -c)" $((N * 3))
sse g7 "$STREAM" -H "$(F cr)"
check "cr: no LF" eq "$(tr -cd '\n' < "$T/g7" | wc -c)" 0
check "cr: CR count" eq "$(tr -cd '\r' < "$T/g7" | wc -c)" $((N * 3))
sse g8 "$STREAM" -H "$(F bom)"
check "bom: first bytes" eq "$(head -c 3 "$T/g8" | od -An -tx1 | tr -d ' ')" efbbbf
sse g9 "$STREAM" -H "$(F comments)"
check "comments: between records" eq "$(count "$T/g9" '^: keep-alive$')" $((N - 1))
check "comments: events intact" eq "$(events g9)" "$N"
sse g10 "$STREAM" -H "$(F 'huge_event;bytes=100000')"
check "huge_event: one delta" eq "$(count "$T/g10" '^event:conversation.message.delta$')" 1
check "huge_event: 100000-byte content" eq "$(grep -A1 '^event:conversation.message.delta' "$T/g10" | tail -1 | sed 's/.*"content":"\([x]*\)"}$/\1/' | tr -d '\n' | wc -c)" 100000
sse g11 "$STREAM" -H "$(F 'truncate;after=2')"
check "truncate: exit 0" eq "$rc" 0
check "truncate: 2 records + half of the 3rd" eq "$(events g11)" 3
check "truncate: ends mid-record" eval "[ \"\$(tail -c 2 '$T/g11' | od -An -tx1 | tr -d ' ')\" != 0a0a ]"
check "truncate: no done" eq "$(count "$T/g11" '^event:done')" 0
sse g12 "$STREAM" -H "$(F eof_no_newline)"
check "eof_no_newline: last bytes" eq "$(tail -c 24 "$T/g12" | od -An -c | tr -s ' ')" "$(printf 'event:done\ndata:"[DONE]"' | od -An -c | tr -s ' ')"
sse g13 "$STREAM" -H "$(F space)"
check "space: event: / data: " eq "$(count "$T/g13" '^event: ')" "$N"
check "space: data" eq "$(count "$T/g13" '^data: ')" "$N"
sse g14 "$STREAM" -H "$(F 'crlf,space,bom')"
check "combined faults" eq "$(head -c 11 "$T/g14" | od -An -c | tr -s ' ')" "$(printf '\357\273\277event: c' | od -An -c | tr -s ' ')"
sse g15 "$STREAM" -H "$(F 'reset;after=0')"
check "reset;after=0: no events, error" eq "$rc:$(grep -c '^event:' "$T/g15")" 18:0
sse_path g16 "/v3/chat/submit_tool_outputs?conversation_id=$rconv&chat_id=$rchat" '{"stream":true}' -H "$(F no_done)"
check "request errors beat stream faults" eq "$(num "$T/g16" code)" 4000

# --- 1,000,000 deltas ------------------------------------------------------------------------------------
if [ "${SMOKE_BIG:-1}" != 0 ]; then
  sse big '{"bot_id":"bot_1","user_id":"u1","stream":true}' -H 'X-Emu-Deltas: 1000000' -H 'X-Emu-Reply: "hello "'
  check "1M deltas: complete" eq "$rc:$(count "$T/big" '^event:conversation.message.delta$')" 0:1000000
  rm -f "$T/big"
  t0=$(date +%s.%N)
  curl -sN -o /dev/null -X POST "$U/v3/chat" -H "$AUTH" -H 'X-Emu-Deltas: 1000000' -H 'X-Emu-Reply: "hello "' \
    -d '{"bot_id":"bot_1","user_id":"u1","stream":true}'; rc=$?
  secs=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.3f", b - a }')
  check "1M deltas to /dev/null" eq "$rc" 0
  echo "info: 1,000,000-delta stream (curl -sN to /dev/null): ${secs}s"
fi

echo "smoke: $pass passed, $fail failed"
[ "$fail" = 0 ]
