-- Emulated Coze OAuth: JWT (RS256) exchange, authorization code + PKCE, refresh, device flow, authorize redirect.
-- JWT signatures are verified here through LuaJIT FFI to libcrypto, independently of the SDK's C core.
--
-- Token responses are bare OAuth JSON: {access_token="czs_...", expires_in=<absolute unix s>, refresh_token?, token_type}.
-- Errors: HTTP 400/401 {error_code, error_message} (device-flow errors also as {error, error_description}).
-- Every access token is stored as dict "token:<access_token>" = expiry unix seconds (read by emu.auth_check).
--
-- Apps: seeded below (survive /__emu/reset), or registered by specs with
--   POST /__emu/oauth/apps {client_id, kid?, public_key_pem?, client_secret?, redirect_uri?}
-- Seeds: emu-client-jwt (kid emu-kid-1 = spec/fixtures/keys/rsa_pkcs8.pub.pem, kid emu-kid-2 = rsa_pkcs1.pub.pem),
--        emu-client-pkce (public), emu-client-device (public), emu-client-web (client_secret "emu-web-secret").
-- Test hooks: headers X-Emu-Token-Ttl (access-token lifetime, s), X-Emu-Device-Expires, X-Emu-Device-Interval;
--   POST /__emu/oauth/authorize {client_id, redirect_uri, code_challenge?, code_challenge_method?} -> {code}
--   POST /__emu/oauth/device/approve|deny {user_code}     GET /__emu/oauth/last_jwt    GET /__emu/oauth/last_authorize
local ffi = require "ffi"
local util = require "emu.util"
local cjson = util.json

local _M = {}
local dict = ngx.shared.emu

local GRANT_JWT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
local GRANT_DEVICE = "urn:ietf:params:oauth:grant-type:device_code"
local JWT_DEFAULT_TTL, JWT_MAX_TTL = 900, 86399
local CODE_TOKEN_TTL = 900
local REFRESH_TTL = 30 * 86400
local EVP_PKEY_RSA = 6

-- libcrypto ------------------------------------------------------------------

local C = require "emu.libcrypto"

-- Parses a public key PEM; returns the EVP_PKEY (caller frees) or nil.
local function load_pubkey(pem)
  C.ERR_clear_error()
  local bio = C.BIO_new_mem_buf(pem, #pem)
  if bio == nil then return nil end
  local pkey = C.PEM_read_bio_PUBKEY(bio, nil, nil, nil)
  C.BIO_free(bio)
  C.ERR_clear_error()
  if pkey == nil then return nil end
  if C.EVP_PKEY_get_base_id(pkey) ~= EVP_PKEY_RSA then
    C.EVP_PKEY_free(pkey)
    return nil
  end
  return pkey
end

-- True when sig is an RSASSA-PKCS1-v1_5 SHA-256 signature of msg under the RSA public key pem.
local function rs256_verify(pem, msg, sig)
  local pkey = load_pubkey(pem)
  if not pkey then return false end
  local ok = false
  local ctx = C.EVP_MD_CTX_new()
  if ctx ~= nil then
    ok = C.EVP_DigestVerifyInit(ctx, nil, C.EVP_sha256(), nil, pkey) == 1
      and C.EVP_DigestVerifyUpdate(ctx, msg, #msg) == 1
      and C.EVP_DigestVerifyFinal(ctx, sig, #sig) == 1
    C.EVP_MD_CTX_free(ctx)
  end
  C.EVP_PKEY_free(pkey)
  C.ERR_clear_error()
  return ok
end

local function sha256(s)
  local md, n = ffi.new("unsigned char[32]"), ffi.new("unsigned int[1]")
  assert(C.EVP_Digest(s, #s, md, n, C.EVP_sha256(), nil) == 1, "EVP_Digest failed")
  return ffi.string(md, 32)
end

local function random_hex(nbytes)
  local buf = ffi.new("unsigned char[?]", nbytes)
  assert(C.RAND_bytes(buf, nbytes) == 1, "RAND_bytes failed")
  return (ffi.string(buf, nbytes):gsub(".", function(c) return string.format("%02x", c:byte()) end))
end

local function b64url_encode(s)
  return (ngx.encode_base64(s):gsub("[+/=]", { ["+"] = "-", ["/"] = "_", ["="] = "" }))
end

local function b64url_decode(s)
  if type(s) ~= "string" or s:find("[^A-Za-z0-9_%-]") or #s % 4 == 1 then return nil end
  s = s:gsub("[-_]", { ["-"] = "+", ["_"] = "/" })
  return ngx.decode_base64(s .. ("="):rep((4 - #s % 4) % 4))
end

-- Apps -------------------------------------------------------------------------

local SEED_APPS, SEED_KIDS = {}, {}

local function fixture(name)
  local src = debug.getinfo(1, "S").source
  local root = src:match("^@(.*)/spec/emulator/emu/oauth%.lua$") or "."
  local f = io.open(root .. "/spec/fixtures/keys/" .. name, "rb")
  if not f then return nil end
  local s = f:read("*a")
  f:close()
  return s
end

local function seed(app, kids)
  SEED_APPS[app.client_id] = app
  for kid, file in pairs(kids or {}) do
    local pem = fixture(file)
    if pem then
      SEED_KIDS[kid] = { client_id = app.client_id, public_key_pem = pem }
    else
      ngx.log(ngx.WARN, "emu.oauth: fixture key ", file, " missing; kid ", kid, " not seeded")
    end
  end
end

seed({ client_id = "emu-client-jwt" }, { ["emu-kid-1"] = "rsa_pkcs8.pub.pem", ["emu-kid-2"] = "rsa_pkcs1.pub.pem" })
seed({ client_id = "emu-client-pkce" })
seed({ client_id = "emu-client-device" })
seed({ client_id = "emu-client-web", client_secret = "emu-web-secret" })

local function get_json(key)
  local s = dict:get(key)
  return s and cjson.decode(s) or nil
end

local function find_app(client_id)
  if type(client_id) ~= "string" then return nil end
  return get_json("oauth:app:" .. client_id) or SEED_APPS[client_id]
end

local function find_kid(kid)
  if type(kid) ~= "string" then return nil end
  return get_json("oauth:kid:" .. kid) or SEED_KIDS[kid]
end

-- Responses ----------------------------------------------------------------------

local function oauth_error(status, code, message, alt)
  local body = { error_code = code, error_message = message }
  if alt then
    body.error = code
    body.error_description = message
  end
  return util.send_json(status, body)
end

local function invalid_request(what)
  return oauth_error(400, "invalid_request", "invalid request: " .. what)
end

local function invalid_client(msg)
  return oauth_error(401, "invalid_client", msg)
end

local function header(name)
  local v = ngx.req.get_headers()[name]
  if type(v) == "table" then v = v[1] end
  return v
end

local function bearer()
  local h = header("authorization")
  return h and h:match("^[Bb][Ee][Aa][Rr][Ee][Rr]%s+(%S+)%s*$")
end

local function ttl_override(default)
  local t = tonumber(header("x-emu-token-ttl"))
  return t and t > 0 and t or default
end

-- Issues an access token (and a refresh token when client_id is given) and sends the token response.
local function send_token(ttl, refresh_for)
  local now = ngx.time()
  local token = "czs_" .. random_hex(24)
  local exp = now + ttl
  dict:set("token:" .. token, exp, ttl + 60)
  local body = { access_token = token, expires_in = exp, token_type = "Bearer" }
  if refresh_for then
    local rt = "emu_rt_" .. random_hex(24)
    dict:set("oauth:refresh:" .. rt, cjson.encode({ client_id = refresh_for }), REFRESH_TTL)
    body.refresh_token = rt
  end
  return util.send_json(200, body)
end

-- Body as a table, or sends invalid_request.
local function body_or_fail()
  local body = util.body_json()
  if type(body) ~= "table" then
    invalid_request("body is not JSON")
    return nil
  end
  return body
end

-- Web (confidential) apps authenticate with Authorization: Bearer <client_secret>.
local function client_auth_ok(app)
  if not app.client_secret then return true end
  return bearer() == app.client_secret
end

-- JWT bearer -------------------------------------------------------------------------

local function aud_ok(aud)
  if type(aud) ~= "string" then return false end
  local host = (header("host") or ""):gsub(":%d+$", "")
  return aud == host or aud == "api.coze.cn" or aud == "api.coze.com" or aud == "127.0.0.1"
    or aud == "localhost"
end

local function jwt_grant(body, ids)
  local jwt = bearer()
  if not jwt then return invalid_client("missing JWT in Authorization header") end
  local h64, p64, s64 = jwt:match("^([^.]+)%.([^.]+)%.([^.]+)$")
  local hjson, pjson, sig = b64url_decode(h64), b64url_decode(p64), b64url_decode(s64)
  if not (hjson and pjson and sig) then return invalid_client("malformed JWT") end
  local hdr, claims = cjson.decode(hjson), cjson.decode(pjson)
  if type(hdr) ~= "table" or type(claims) ~= "table" then return invalid_client("malformed JWT") end
  if hdr.alg ~= "RS256" then return invalid_client("JWT alg must be RS256") end
  if hdr.typ ~= "JWT" then return invalid_client("JWT typ must be JWT") end
  local key = find_kid(hdr.kid)
  if not key then return invalid_client("unknown kid") end
  if not rs256_verify(key.public_key_pem, h64 .. "." .. p64, sig) then
    return invalid_client("invalid JWT signature")
  end
  local now = ngx.time()
  if claims.iss ~= key.client_id then return invalid_client("JWT iss does not match the app of kid") end
  if not aud_ok(claims.aud) then return invalid_client("JWT aud must be the API host") end
  if type(claims.iat) ~= "number" or claims.iat > now + 60 then return invalid_client("JWT iat is in the future") end
  if type(claims.exp) ~= "number" or claims.exp <= now then return invalid_client("JWT expired") end
  if claims.exp <= claims.iat then return invalid_client("JWT exp must be after iat") end
  if type(claims.jti) ~= "string" or claims.jti == "" then return invalid_client("JWT jti missing") end
  local added = dict:add("oauth:jti:" .. claims.jti, true, math.max(1, claims.exp - now + 1))
  if not added then return invalid_client("JWT jti already used") end

  local duration = body.duration_seconds
  if duration == nil then
    duration = JWT_DEFAULT_TTL
  elseif type(duration) ~= "number" or duration < 1 or duration > JWT_MAX_TTL or duration % 1 ~= 0 then
    return invalid_request("duration_seconds")
  end
  local record = { header = hdr, claims = claims, path = ngx.var.uri, duration_seconds = duration,
    scope = body.scope, client_id = key.client_id }
  for k, v in pairs(ids or {}) do record[k] = v end
  dict:set("oauth:last_jwt", cjson.encode(record))
  return send_token(ttl_override(duration))
end

-- Authorization code + PKCE -------------------------------------------------------------

local function code_grant(body)
  local app = find_app(body.client_id)
  if not app then return invalid_client("unknown client_id") end
  if type(body.code) ~= "string" then return invalid_request("code") end
  local key = "oauth:code:" .. body.code
  local code = get_json(key)
  dict:delete(key) -- single use, whatever happens next
  if not code or code.client_id ~= body.client_id then return oauth_error(400, "invalid_grant", "invalid request: code") end
  if body.redirect_uri ~= code.redirect_uri then return invalid_request("redirect_uri") end
  if not client_auth_ok(app) then return invalid_client("invalid client secret") end
  if code.code_challenge then
    local v = body.code_verifier
    if type(v) ~= "string" then return invalid_request("code_verifier") end
    local expect = code.code_challenge_method == "plain" and v or b64url_encode(sha256(v))
    if expect ~= code.code_challenge then return oauth_error(400, "invalid_grant", "invalid request: code_verifier") end
  end
  return send_token(ttl_override(CODE_TOKEN_TTL), body.client_id)
end

local function refresh_grant(body)
  local app = find_app(body.client_id)
  if not app then return invalid_client("unknown client_id") end
  if type(body.refresh_token) ~= "string" then return invalid_request("refresh_token") end
  if not client_auth_ok(app) then return invalid_client("invalid client secret") end
  local key = "oauth:refresh:" .. body.refresh_token
  local rt = get_json(key)
  if not rt or rt.client_id ~= body.client_id then
    return oauth_error(400, "invalid_grant", "invalid request: refresh_token")
  end
  dict:delete(key)
  return send_token(ttl_override(CODE_TOKEN_TTL), body.client_id)
end

-- Device flow -------------------------------------------------------------------------------

local function device_error(code, msg)
  return oauth_error(400, code, msg, true)
end

local function user_code()
  local letters = "BCDFGHJKLMNPQRSTVWXZ"
  local raw = random_hex(8)
  local out = {}
  for i = 1, 8 do
    local n = tonumber(raw:sub(2 * i - 1, 2 * i), 16) % #letters + 1
    out[#out + 1] = letters:sub(n, n)
    if i == 4 then out[#out + 1] = "-" end
  end
  return table.concat(out)
end

local function device_code(params)
  local body = body_or_fail()
  if not body then return end
  local app = find_app(body.client_id)
  if not app then return invalid_client("unknown client_id") end
  -- the headers' text goes into the answer as it is (NaN, 1e400: a hostile server); the emulator's
  -- own bookkeeping uses finite values
  local raw_expires, raw_interval = header("x-emu-device-expires"), header("x-emu-device-interval")
  local function finite(v, d)
    v = tonumber(v)
    if v == nil or v ~= v or v == math.huge or v == -math.huge then return d end
    return v
  end
  local expires = finite(raw_expires, 300)
  local interval = finite(raw_interval, 5)
  ngx.update_time()
  local dc, uc = random_hex(20), user_code()
  local rec = { client_id = body.client_id, user_code = uc, status = "pending", interval = interval,
    expires_at = ngx.now() + expires, last_poll = nil, workspace_id = params.workspace_id }
  dict:set("oauth:device:" .. dc, cjson.encode(rec), expires + 600)
  dict:set("oauth:user_code:" .. uc, dc, expires + 600)
  local scheme = ngx.var.scheme
  local text = cjson.encode({
    device_code = dc, user_code = uc, expires_in = "\1expires", interval = "\1interval",
    verification_uri = scheme .. "://" .. (header("host") or "127.0.0.1") .. "/oauth/device",
  })
  local function raw(v, d) return (v and v:match("^[%w%.%-+]+$")) and v or tostring(d) end
  text = text:gsub('"\\u0001expires"', raw(raw_expires, expires)):gsub('"\\u0001interval"', raw(raw_interval, interval))
  util.request_logid()
  ngx.status = 200
  ngx.header["Content-Type"] = "application/json"
  ngx.print(text)
  return ngx.exit(200)
end

local function device_grant(body)
  if not find_app(body.client_id) then return invalid_client("unknown client_id") end
  if type(body.device_code) ~= "string" then return invalid_request("device_code") end
  local key = "oauth:device:" .. body.device_code
  local rec = get_json(key)
  if not rec or rec.client_id ~= body.client_id then return device_error("expired_token", "device_code is unknown or expired") end
  ngx.update_time()
  local now = ngx.now()
  local last = rec.last_poll
  rec.last_poll = now
  dict:set(key, cjson.encode(rec), math.max(1, rec.expires_at - now + 600))
  if rec.status == "used" then return device_error("invalid_grant", "device_code already used") end
  if now >= rec.expires_at then return device_error("expired_token", "device_code expired") end
  if rec.status == "denied" then return device_error("access_denied", "the user denied the request") end
  if last and now - last < rec.interval - 0.05 then
    return device_error("slow_down", "polling faster than the interval")
  end
  if rec.status ~= "approved" then return device_error("authorization_pending", "the user has not finished authorizing") end
  rec.status = "used"
  dict:set(key, cjson.encode(rec), 600)
  return send_token(ttl_override(CODE_TOKEN_TTL), body.client_id)
end

local function device_decide(status)
  return function()
    local body = util.body_json() or {}
    local dc = body.device_code or (type(body.user_code) == "string" and dict:get("oauth:user_code:" .. body.user_code))
    local rec = dc and get_json("oauth:device:" .. dc)
    if not rec then return util.send_json(404, { error = "unknown user_code" }) end
    rec.status = status
    dict:set("oauth:device:" .. dc, cjson.encode(rec), 1200)
    return util.send_json(200, { ok = true, device_code = dc })
  end
end

-- Token endpoint -------------------------------------------------------------------------------

local function token(params)
  local body = body_or_fail()
  if not body then return end
  local gt = body.grant_type
  local ids = nil
  if params.account_id then ids = { account_id = params.account_id } end
  if params.enterprise_id then ids = { enterprise_id = params.enterprise_id } end
  if ids and gt ~= GRANT_JWT then
    return oauth_error(400, "unsupported_grant_type", "not supported grant type: " .. tostring(gt))
  end
  if gt == GRANT_JWT then return jwt_grant(body, ids) end
  if gt == "authorization_code" then return code_grant(body) end
  if gt == "refresh_token" then return refresh_grant(body) end
  if gt == GRANT_DEVICE then return device_grant(body) end
  if gt == nil then return invalid_request("grant_type") end
  return oauth_error(400, "unsupported_grant_type", "not supported grant type: " .. tostring(gt))
end

local function authorize_redirect(params)
  local args = ngx.req.get_uri_args(100)
  dict:set("oauth:last_authorize", cjson.encode({ query = args, workspace_id = params.workspace_id }))
  return ngx.redirect("/oauth/consent?authorize_key=" .. random_hex(16), 302)
end

-- Test control -------------------------------------------------------------------------------------

local function register_app()
  local body = util.body_json()
  if type(body) ~= "table" or type(body.client_id) ~= "string" or body.client_id == "" then
    return util.send_json(400, { error = "client_id required" })
  end
  local app = { client_id = body.client_id, client_secret = body.client_secret, redirect_uri = body.redirect_uri }
  if body.kid ~= nil or body.public_key_pem ~= nil then
    if type(body.kid) ~= "string" or type(body.public_key_pem) ~= "string" then
      return util.send_json(400, { error = "kid and public_key_pem go together" })
    end
    local pkey = load_pubkey(body.public_key_pem)
    if not pkey then return util.send_json(400, { error = "public_key_pem is not an RSA public key" }) end
    C.EVP_PKEY_free(pkey)
    dict:set("oauth:kid:" .. body.kid, cjson.encode({ client_id = body.client_id, public_key_pem = body.public_key_pem }))
  end
  dict:set("oauth:app:" .. body.client_id, cjson.encode(app))
  return util.send_json(200, { ok = true })
end

local function make_code()
  local body = util.body_json()
  if type(body) ~= "table" then return util.send_json(400, { error = "JSON body required" }) end
  local app = find_app(body.client_id)
  if not app then return util.send_json(400, { error = "unknown client_id" }) end
  if type(body.redirect_uri) ~= "string" then return util.send_json(400, { error = "redirect_uri required" }) end
  if app.redirect_uri and app.redirect_uri ~= body.redirect_uri then
    return util.send_json(400, { error = "redirect_uri does not match the app" })
  end
  local method = body.code_challenge_method
  if body.code_challenge ~= nil then
    method = method or "plain"
    if method ~= "S256" and method ~= "plain" then
      return util.send_json(400, { error = "code_challenge_method must be S256 or plain" })
    end
  end
  local code = "code_" .. random_hex(16)
  dict:set("oauth:code:" .. code, cjson.encode({ client_id = body.client_id, redirect_uri = body.redirect_uri,
    code_challenge = body.code_challenge, code_challenge_method = method }), 600)
  return util.send_json(200, { code = code })
end

local function last(key)
  return function()
    local s = dict:get(key)
    if not s then return util.send_json(404, { error = "nothing recorded" }) end
    ngx.status = 200
    ngx.header["Content-Type"] = "application/json; charset=utf-8"
    ngx.print(s)
    return ngx.exit(200)
  end
end

_M.routes = {
  { "POST", "/api/permission/oauth2/token", token },
  { "POST", "/api/permission/oauth2/account/{account_id}/token", token },
  { "POST", "/api/permission/oauth2/enterprise_id/{enterprise_id}/token", token },
  { "POST", "/api/permission/oauth2/device/code", device_code },
  { "POST", "/api/permission/oauth2/workspace_id/{workspace_id}/device/code", device_code },
  { "GET", "/api/permission/oauth2/authorize", authorize_redirect },
  { "GET", "/api/permission/oauth2/workspace_id/{workspace_id}/authorize", authorize_redirect },
  { "POST", "/__emu/oauth/apps", register_app },
  { "POST", "/__emu/oauth/authorize", make_code },
  { "POST", "/__emu/oauth/device/approve", device_decide("approved") },
  { "POST", "/__emu/oauth/device/deny", device_decide("denied") },
  { "GET", "/__emu/oauth/last_jwt", last("oauth:last_jwt") },
  { "GET", "/__emu/oauth/last_authorize", last("oauth:last_authorize") },
}

-- For specs of the emulator itself.
_M.rs256_verify = rs256_verify
_M.b64url_decode = b64url_decode

return _M
