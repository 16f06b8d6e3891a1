#!/bin/sh
# Smoke test of the emulator's OAuth endpoints with curl and the openssl CLI only (no SDK code).
#   COZE_EMU_PORT=18600 spec/emulator/ctl restart && COZE_EMU_PORT=18600 spec/emulator/oauth_smoke.sh
# Prints one line per check and ends with "N passed, N failed"; exit status 0 when all pass.
set -u
here=$(cd "$(dirname "$0")" && pwd)
keys="$here/../fixtures/keys"
base="http://127.0.0.1:${COZE_EMU_PORT:-18321}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
passed=0; failed=0

check() { # name expected actual
  case "$3" in
    *"$2"*) passed=$((passed + 1)); echo "ok   $1" ;;
    *) failed=$((failed + 1)); echo "FAIL $1: expected '$2' in: $3" ;;
  esac
}

b64url() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }

# jwt KEYFILE HEADER_JSON PAYLOAD_JSON -> compact RS256 JWT
jwt() {
  h=$(printf '%s' "$2" | b64url); p=$(printf '%s' "$3" | b64url)
  s=$(printf '%s' "$h.$p" | openssl dgst -sha256 -sign "$1" -binary | b64url)
  printf '%s.%s.%s' "$h" "$p" "$s"
}

# post PATH BODY [extra curl args...] -> "HTTP_STATUS BODY"
post() {
  path=$1; body=$2; shift 2
  curl -s -o "$tmp/out" -w '%{http_code}' -H 'Content-Type: application/json' "$@" -d "$body" "$base$path" > "$tmp/code"
  printf '%s %s' "$(cat "$tmp/code")" "$(cat "$tmp/out")"
}

json_field() { # FIELD <<< JSON (string or number value)
  sed -n "s/.*\"$1\":\"\{0,1\}\([^\",}]*\).*/\1/p"
}

now=$(date +%s)
hdr='{"alg":"RS256","typ":"JWT","kid":"emu-kid-1"}'
claims() { # jti [aud] [iss] [exp]
  printf '{"iss":"%s","aud":"%s","iat":%s,"exp":%s,"jti":"%s","session_name":"user-42"}' \
    "${3:-emu-client-jwt}" "${2:-api.coze.cn}" "$now" "${4:-$((now + 600))}" "$1"
}
grant='{"grant_type":"urn:ietf:params:oauth:grant-type:jwt-bearer","duration_seconds":1200}'

post /__emu/reset '{}' >/dev/null

# --- JWT bearer ---
t=$(jwt "$keys/rsa_pkcs8.pem" "$hdr" "$(claims jti-$now-1)")
r=$(post /api/permission/oauth2/token "$grant" -H "Authorization: Bearer $t")
check "jwt: exchange answers 200 with a czs_ token" '200 {"' "$r"
check "jwt: access_token has czs_ prefix" '"access_token":"czs_' "$r"
exp=$(printf '%s' "$r" | json_field expires_in)
check "jwt: expires_in is absolute (now+1200)" "yes" "$([ "${exp:-0}" -ge $((now + 1199)) ] && [ "$exp" -le $((now + 1202)) ] && echo yes || echo "no: $exp")"
check "jwt: no refresh_token" "absent" "$(printf '%s' "$r" | grep -q refresh_token && echo present || echo absent)"
r=$(post /api/permission/oauth2/token "$grant" -H "Authorization: Bearer $t")
check "jwt: reused jti is rejected" '401 {"error_code":"invalid_client","error_message":"JWT jti already used"}' "$r"

t=$(jwt "$keys/rsa_pkcs8.pem" "$hdr" "$(claims jti-$now-2)")
bad="${t%.*}.$(printf 'forged' | b64url)"
r=$(post /api/permission/oauth2/token "$grant" -H "Authorization: Bearer $bad")
check "jwt: bad signature is rejected" 'invalid JWT signature' "$r"
other=$(jwt "$keys/rsa_pkcs1.pem" "$hdr" "$(claims jti-$now-3)")
r=$(post /api/permission/oauth2/token "$grant" -H "Authorization: Bearer $other")
check "jwt: signature by another key is rejected" 'invalid JWT signature' "$r"
r=$(post /api/permission/oauth2/token "$grant" -H "Authorization: Bearer $t")
check "jwt: a rejected attempt does not burn the jti" '200 {"' "$r"
t=$(jwt "$keys/rsa_pkcs1.pem" '{"alg":"RS256","typ":"JWT","kid":"emu-kid-2"}' "$(claims jti-$now-4)")
r=$(post /api/permission/oauth2/token '{"grant_type":"urn:ietf:params:oauth:grant-type:jwt-bearer"}' -H "Authorization: Bearer $t")
check "jwt: second seeded kid (PKCS#1 key) works, default duration" '200 {"' "$r"
exp=$(printf '%s' "$r" | json_field expires_in)
check "jwt: default lifetime is 900 s" "yes" "$([ "${exp:-0}" -ge $((now + 899)) ] && [ "$exp" -le $((now + 902)) ] && echo yes || echo "no: $exp")"
t=$(jwt "$keys/rsa_pkcs8.pem" '{"alg":"RS256","typ":"JWT","kid":"nope"}' "$(claims jti-$now-5)")
check "jwt: unknown kid" 'unknown kid' "$(post /api/permission/oauth2/token "$grant" -H "Authorization: Bearer $t")"
t=$(jwt "$keys/rsa_pkcs8.pem" '{"alg":"HS256","typ":"JWT","kid":"emu-kid-1"}' "$(claims jti-$now-6)")
check "jwt: alg other than RS256" 'alg must be RS256' "$(post /api/permission/oauth2/token "$grant" -H "Authorization: Bearer $t")"
t=$(jwt "$keys/rsa_pkcs8.pem" "$hdr" "$(claims jti-$now-7 api.example.com)")
check "jwt: wrong aud" 'aud must be' "$(post /api/permission/oauth2/token "$grant" -H "Authorization: Bearer $t")"
t=$(jwt "$keys/rsa_pkcs8.pem" "$hdr" "$(claims jti-$now-8 api.coze.cn someone-else)")
check "jwt: iss not the kid's app" 'iss does not match' "$(post /api/permission/oauth2/token "$grant" -H "Authorization: Bearer $t")"
t=$(jwt "$keys/rsa_pkcs8.pem" "$hdr" "$(claims jti-$now-9 api.coze.cn emu-client-jwt $((now - 1)))")
check "jwt: expired" 'JWT expired' "$(post /api/permission/oauth2/token "$grant" -H "Authorization: Bearer $t")"
t=$(jwt "$keys/rsa_pkcs8.pem" "$hdr" "$(claims jti-$now-10 127.0.0.1)")
check "jwt: duration_seconds over 86399" '400 {"error_code":"invalid_request"' \
  "$(post /api/permission/oauth2/token '{"grant_type":"urn:ietf:params:oauth:grant-type:jwt-bearer","duration_seconds":86400}' -H "Authorization: Bearer $t")"
check "jwt: missing Authorization" 'missing JWT' "$(post /api/permission/oauth2/token "$grant")"
t=$(jwt "$keys/rsa_pkcs8.pem" "$hdr" "$(claims jti-$now-11)")
r=$(post /api/permission/oauth2/token "$grant" -H "Authorization: Bearer $t" -H 'X-Emu-Token-Ttl: 2')
exp=$(printf '%s' "$r" | json_field expires_in)
check "jwt: X-Emu-Token-Ttl gives a 2 s token" "yes" "$([ "${exp:-0}" -ge $((now + 1)) ] && [ "$exp" -le $((now + 4)) ] && echo yes || echo "no: $exp")"

t=$(jwt "$keys/rsa_pkcs8.pem" "$hdr" "$(claims jti-$now-12)")
r=$(post /api/permission/oauth2/account/7001/token "$grant" -H "Authorization: Bearer $t")
check "jwt: account token" '200 {"' "$r"
r=$(curl -s "$base/__emu/oauth/last_jwt")
check "jwt: last_jwt records account_id" '"account_id":"7001"' "$r"
check "jwt: last_jwt records session_name" '"session_name":"user-42"' "$r"
t=$(jwt "$keys/rsa_pkcs8.pem" "$hdr" "$(claims jti-$now-13)")
r=$(post /api/permission/oauth2/enterprise_id/e-9/token "$grant" -H "Authorization: Bearer $t")
check "jwt: enterprise token" '200 {"' "$r"
check "jwt: last_jwt records enterprise_id" '"enterprise_id":"e-9"' "$(curl -s "$base/__emu/oauth/last_jwt")"

# A key pair registered at run time.
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$tmp/k.pem" 2>/dev/null
openssl pkey -in "$tmp/k.pem" -pubout -out "$tmp/k.pub"
pub=$(awk '{printf "%s\\n", $0}' "$tmp/k.pub")
r=$(post /__emu/oauth/apps "{\"client_id\":\"smoke-app\",\"kid\":\"smoke-kid\",\"public_key_pem\":\"$pub\"}")
check "apps: register a key" '200 {"ok":true}' "$r"
t=$(jwt "$tmp/k.pem" '{"alg":"RS256","typ":"JWT","kid":"smoke-kid"}' "$(claims jti-$now-14 api.coze.com smoke-app)")
check "apps: JWT of the registered key" '200 {"' "$(post /api/permission/oauth2/token "$grant" -H "Authorization: Bearer $t")"
check "apps: EC public key is refused" '400' \
  "$(post /__emu/oauth/apps "{\"client_id\":\"ec\",\"kid\":\"ec\",\"public_key_pem\":\"$(openssl pkey -in "$keys/ec_p256.pem" -pubout | awk '{printf "%s\\n", $0}')\"}")"

# --- authorization code + PKCE ---
verifier=$(openssl rand 32 | b64url)
challenge=$(printf '%s' "$verifier" | openssl dgst -sha256 -binary | b64url)
cb=http://127.0.0.1/callback
code=$(post /__emu/oauth/authorize "{\"client_id\":\"emu-client-pkce\",\"redirect_uri\":\"$cb\",\"code_challenge\":\"$challenge\",\"code_challenge_method\":\"S256\"}" | json_field code)
r=$(post /api/permission/oauth2/token "{\"grant_type\":\"authorization_code\",\"client_id\":\"emu-client-pkce\",\"code\":\"$code\",\"redirect_uri\":\"$cb\",\"code_verifier\":\"$verifier\"}")
check "pkce: S256 exchange" '200 {"' "$r"
check "pkce: gives a refresh_token" '"refresh_token":"' "$r"
rt=$(printf '%s' "$r" | json_field refresh_token)
r=$(post /api/permission/oauth2/token "{\"grant_type\":\"authorization_code\",\"client_id\":\"emu-client-pkce\",\"code\":\"$code\",\"redirect_uri\":\"$cb\",\"code_verifier\":\"$verifier\"}")
check "pkce: code is single-use" '400 {"error_code":"invalid_grant"' "$r"
code=$(post /__emu/oauth/authorize "{\"client_id\":\"emu-client-pkce\",\"redirect_uri\":\"$cb\",\"code_challenge\":\"$challenge\",\"code_challenge_method\":\"S256\"}" | json_field code)
r=$(post /api/permission/oauth2/token "{\"grant_type\":\"authorization_code\",\"client_id\":\"emu-client-pkce\",\"code\":\"$code\",\"redirect_uri\":\"$cb\",\"code_verifier\":\"wrong-$verifier\"}")
check "pkce: wrong verifier" 'code_verifier' "$r"
code=$(post /__emu/oauth/authorize "{\"client_id\":\"emu-client-pkce\",\"redirect_uri\":\"$cb\",\"code_challenge\":\"$verifier\",\"code_challenge_method\":\"plain\"}" | json_field code)
r=$(post /api/permission/oauth2/token "{\"grant_type\":\"authorization_code\",\"client_id\":\"emu-client-pkce\",\"code\":\"$code\",\"redirect_uri\":\"$cb\",\"code_verifier\":\"$verifier\"}")
check "pkce: plain exchange" '200 {"' "$r"

r=$(post /api/permission/oauth2/token "{\"grant_type\":\"refresh_token\",\"client_id\":\"emu-client-pkce\",\"refresh_token\":\"$rt\"}")
check "refresh: gives a new pair" '"refresh_token":"' "$r"
r=$(post /api/permission/oauth2/token "{\"grant_type\":\"refresh_token\",\"client_id\":\"emu-client-pkce\",\"refresh_token\":\"$rt\"}")
check "refresh: old refresh_token is invalid" '400 {"error_code":"invalid_grant"' "$r"

code=$(post /__emu/oauth/authorize "{\"client_id\":\"emu-client-web\",\"redirect_uri\":\"$cb\"}" | json_field code)
r=$(post /api/permission/oauth2/token "{\"grant_type\":\"authorization_code\",\"client_id\":\"emu-client-web\",\"code\":\"$code\",\"redirect_uri\":\"$cb\"}")
check "web: no client secret" '401 {"error_code":"invalid_client"' "$r"
code=$(post /__emu/oauth/authorize "{\"client_id\":\"emu-client-web\",\"redirect_uri\":\"$cb\"}" | json_field code)
r=$(post /api/permission/oauth2/token "{\"grant_type\":\"authorization_code\",\"client_id\":\"emu-client-web\",\"code\":\"$code\",\"redirect_uri\":\"$cb\"}" -H 'Authorization: Bearer emu-web-secret')
check "web: with client secret" '200 {"' "$r"
check "token: unknown grant_type" 'unsupported_grant_type' "$(post /api/permission/oauth2/token '{"grant_type":"password"}')"

# --- device flow ---
r=$(post /api/permission/oauth2/device/code '{"client_id":"emu-client-device"}')
check "device: code has defaults expires_in 300, interval 5" '"expires_in":300' "$r"
check "device: interval 5" '"interval":5' "$r"
dc=$(printf '%s' "$r" | json_field device_code); uc=$(printf '%s' "$r" | json_field user_code)
poll="{\"grant_type\":\"urn:ietf:params:oauth:grant-type:device_code\",\"client_id\":\"emu-client-device\",\"device_code\":\"$dc\"}"
r=$(post /api/permission/oauth2/token "$poll")
check "device: authorization_pending" '400 {"error' "$r"
check "device: pending in both spellings" '"error":"authorization_pending"' "$r"
check "device: error_code too" '"error_code":"authorization_pending"' "$r"
check "device: polling too fast" 'slow_down' "$(post /api/permission/oauth2/token "$poll")"

r=$(post /api/permission/oauth2/workspace_id/ws1/device/code '{"client_id":"emu-client-device"}' -H 'X-Emu-Device-Interval: 0')
check "device: workspace path, interval header" '"interval":0' "$r"
dc=$(printf '%s' "$r" | json_field device_code); uc=$(printf '%s' "$r" | json_field user_code)
poll="{\"grant_type\":\"urn:ietf:params:oauth:grant-type:device_code\",\"client_id\":\"emu-client-device\",\"device_code\":\"$dc\"}"
check "device: pending" 'authorization_pending' "$(post /api/permission/oauth2/token "$poll")"
check "device: approve" '200' "$(post /__emu/oauth/device/approve "{\"user_code\":\"$uc\"}")"
r=$(post /api/permission/oauth2/token "$poll")
check "device: token after approval" '"refresh_token":"' "$r"
check "device: device_code is single-use" '400' "$(post /api/permission/oauth2/token "$poll")"

r=$(post /api/permission/oauth2/device/code '{"client_id":"emu-client-device"}' -H 'X-Emu-Device-Interval: 0')
dc=$(printf '%s' "$r" | json_field device_code); uc=$(printf '%s' "$r" | json_field user_code)
post /__emu/oauth/device/deny "{\"user_code\":\"$uc\"}" >/dev/null
r=$(post /api/permission/oauth2/token "{\"grant_type\":\"urn:ietf:params:oauth:grant-type:device_code\",\"client_id\":\"emu-client-device\",\"device_code\":\"$dc\"}")
check "device: denied" '"error":"access_denied"' "$r"

r=$(post /api/permission/oauth2/device/code '{"client_id":"emu-client-device"}' -H 'X-Emu-Device-Interval: 0' -H 'X-Emu-Device-Expires: 1')
dc=$(printf '%s' "$r" | json_field device_code)
sleep 1.2
r=$(post /api/permission/oauth2/token "{\"grant_type\":\"urn:ietf:params:oauth:grant-type:device_code\",\"client_id\":\"emu-client-device\",\"device_code\":\"$dc\"}")
check "device: expired_token" '"error_code":"expired_token"' "$r"
check "device: unknown client" '401' "$(post /api/permission/oauth2/device/code '{"client_id":"nobody"}')"

# --- authorize redirect ---
r=$(curl -s -o /dev/null -w '%{http_code} %{redirect_url}' "$base/api/permission/oauth2/authorize?response_type=code&client_id=emu-client-pkce&redirect_uri=$cb&state=s1")
check "authorize: 302 to the consent page" '302 http://127.0.0.1' "$r"
check "authorize: authorize_key" '/oauth/consent?authorize_key=' "$r"
r=$(curl -s -o /dev/null -w '%{http_code}' "$base/api/permission/oauth2/workspace_id/ws1/authorize?response_type=code&client_id=x")
check "authorize: workspace path" '302' "$r"
check "authorize: recorded" '"workspace_id":"ws1"' "$(curl -s "$base/__emu/oauth/last_authorize")"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
