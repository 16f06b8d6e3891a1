-- Which proxy a request goes through, by libcurl's rules, for a transport that is not libcurl
-- (coze.transport.ngx), so `proxy`, `no_proxy` and the environment mean the same on both:
--   * `proxy` set: that proxy for every URL; "" means none, and the environment is not read;
--   * else the environment: `http_proxy` (lower case only, as libcurl: HTTP_PROXY can be set by a
--     CGI client), `https_proxy` or `HTTPS_PROXY`, then `all_proxy` or `ALL_PROXY`;
--   * `no_proxy` (else `no_proxy` or `NO_PROXY`): "*", or a list (commas or blanks between entries)
--     of host names (each one also matches its subdomains; a leading or trailing dot is allowed)
--     and IPv4 addresses or CIDR ranges (a prefix length of 0 means 32, as libcurl's). An IPv6
--     address is matched as libcurl 7.88 matches it: as a name (`::1`, not `[::1]` nor `0::1`).
--     spec/transport_proxy_spec.lua checks these against the libcurl the SDK runs on.
-- A proxy URL is [http://][user:password@]host[:port]; the port defaults to 1080, as libcurl's.
local core = require "coze.core"

local _M = {}

local function trim(s) return (s:gsub("^%s+", ""):gsub("%s+$", "")) end

local function ipv4(s)
  local a, b, c, d = s:match("^(%d+)%.(%d+)%.(%d+)%.(%d+)$")
  if not a then return nil end
  a, b, c, d = tonumber(a), tonumber(b), tonumber(c), tonumber(d)
  if a > 255 or b > 255 or c > 255 or d > 255 then return nil end
  return ((a * 256 + b) * 256 + c) * 256 + d
end

-- Does no_proxy's entry `pat` exempt `host` (lower case, no brackets, no trailing dot)?
local function exempts(pat, host)
  pat = pat:lower()
  local net, bits = pat:match("^([%d.]+)/(%d+)$")
  local h4 = ipv4(host)
  if net and h4 and ipv4(net) then
    bits = tonumber(bits)
    if bits == 0 then bits = 32 end
    if bits > 32 then return false end
    local size = 2 ^ (32 - bits)
    return math.floor(h4 / size) == math.floor(ipv4(net) / size)
  end
  pat = pat:gsub("^%.", ""):gsub("%.$", "")
  if pat == "" then return false end
  if host == pat then return true end
  return not h4 and #host > #pat and host:sub(-#pat - 1) == "." .. pat
end

function _M.exempt(no_proxy, host)
  if not no_proxy or no_proxy == "" then return false end
  host = host:lower():gsub("%.$", "")
  if trim(no_proxy) == "*" then return true end
  for pat in no_proxy:gmatch("[^,%s]+") do
    pat = trim(pat)
    if pat ~= "" and exempts(pat, host) then return true end
  end
  return false
end

local function unescape(s)
  return (s:gsub("%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end))
end

-- A proxy URL as { host, port, auth = "user:password" (decoded) or nil, name = "host:port" },
-- or nil, message (an unsupported scheme). The message never holds the credentials.
function _M.parse(url)
  local scheme, rest = url:match("^(%a[%w+.-]*)://(.*)$")
  scheme = scheme and scheme:lower() or "http"
  rest = rest or url
  local authority = rest:match("^([^/?#]*)")
  local userinfo, hostport = authority:match("^(.*)@(.*)$")
  hostport = hostport or authority
  local host, port = hostport:match("^%[([^%]]+)%]:?(%d*)$")
  if not host then host, port = hostport:match("^([^:]+):?(%d*)$") end
  if not host or host == "" then return nil, "proxy URL without a host" end
  port = tonumber(port) or 1080
  local name = (host:find(":", 1, true) and "[" .. host .. "]" or host) .. ":" .. port
  if scheme ~= "http" then
    return nil, "proxy " .. scheme .. "://" .. name .. ": only http:// proxies are supported here (a CONNECT tunnel for https)"
  end
  local auth
  if userinfo then
    local user, pass = userinfo:match("^([^:]*):?(.*)$")
    auth = unescape(user) .. ":" .. unescape(pass)
  end
  return { host = host, port = port, auth = auth, name = name }
end

-- What tells connections through proxy px apart in a connection pool's name: its host:port and,
-- with credentials, a keyed hash of them, or nil, message. A pool name can be read by any code in
-- the nginx worker (and nginx's debug log prints it), and a plain hash of a short password is
-- reversed by a dictionary: HMAC-SHA256 under a random key made once per process (per nginx
-- worker: made at first use, after the fork) still gives other credentials another pool, and the
-- name reveals nothing.
local pool_key
function _M.pool_name(px)
  if not px.auth then return px.name end
  if not pool_key then
    local key, err = core.random_bytes(32)
    if not key then return nil, "no key for the proxy's connection pool: " .. tostring(err) end
    pool_key = key
  end
  return px.name .. ":" .. core.base64url_encode(core.hmac_sha256(pool_key, px.auth):sub(1, 16))
end

-- The proxy URL string for a request to scheme://host, or nil for a direct connection.
-- opts: proxy, no_proxy (as the client's options); getenv: os.getenv or a stand-in.
function _M.url_for(scheme, host, opts, getenv)
  getenv = getenv or os.getenv
  local url = opts.proxy
  if url == nil then
    if scheme == "http" then
      url = getenv("http_proxy")
    else
      url = getenv(scheme .. "_proxy") or getenv(scheme:upper() .. "_PROXY")
    end
    url = url or getenv("all_proxy") or getenv("ALL_PROXY")
  end
  if url == nil or url == "" then return nil end
  local no_proxy = opts.no_proxy
  if no_proxy == nil then no_proxy = getenv("no_proxy") or getenv("NO_PROXY") end
  if _M.exempt(no_proxy, host) then return nil end
  return url
end

return _M
