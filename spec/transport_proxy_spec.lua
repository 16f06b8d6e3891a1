-- coze.transport.proxy: libcurl's rules for `proxy`, `no_proxy` and the proxy environment, as
-- coze.transport.ngx applies them (its CONNECT tunnel runs in spec/openresty_app_spec.lua).
local proxy = require "coze.transport.proxy"

local function env(t) return function(name) return t[name] end end

describe("coze.transport.proxy.url_for", function()
  it("reads http_proxy in lower case only, as libcurl (HTTP_PROXY is a CGI client's header)", function()
    assert.equal("http://p:3128", proxy.url_for("http", "api.coze.cn", {}, env { http_proxy = "http://p:3128" }))
    assert.is_nil(proxy.url_for("http", "api.coze.cn", {}, env { HTTP_PROXY = "http://p:3128" }))
  end)

  it("reads https_proxy, then HTTPS_PROXY, then all_proxy and ALL_PROXY", function()
    assert.equal("a", proxy.url_for("https", "h", {}, env { https_proxy = "a", HTTPS_PROXY = "b", all_proxy = "c" }))
    assert.equal("b", proxy.url_for("https", "h", {}, env { HTTPS_PROXY = "b", all_proxy = "c" }))
    assert.equal("c", proxy.url_for("https", "h", {}, env { all_proxy = "c", ALL_PROXY = "d" }))
    assert.equal("d", proxy.url_for("https", "h", {}, env { ALL_PROXY = "d" }))
    assert.is_nil(proxy.url_for("https", "h", {}, env { http_proxy = "a" }))
  end)

  it("takes the proxy option over the environment; '' means none", function()
    assert.equal("x", proxy.url_for("https", "h", { proxy = "x" }, env { https_proxy = "a" }))
    assert.is_nil(proxy.url_for("https", "h", { proxy = "" }, env { https_proxy = "a" }))
  end)

  it("exempts no_proxy's hosts, the option over the environment, for an explicit proxy too", function()
    assert.is_nil(proxy.url_for("https", "api.coze.cn", { proxy = "x" }, env { no_proxy = "coze.cn" }))
    assert.is_nil(proxy.url_for("https", "api.coze.cn", {}, env { https_proxy = "a", NO_PROXY = ".coze.cn" }))
    assert.equal("a", proxy.url_for("https", "api.coze.cn", { no_proxy = "other" }, env { https_proxy = "a", no_proxy = "*" }))
  end)
end)

describe("coze.transport.proxy.exempt", function()
  it("matches '*', names and their subdomains, never a mere suffix", function()
    assert.is_true(proxy.exempt("*", "anything"))
    assert.is_true(proxy.exempt("localhost, coze.cn", "api.coze.cn"))
    assert.is_true(proxy.exempt(".coze.cn", "coze.cn"))
    assert.is_true(proxy.exempt("API.Coze.CN", "api.coze.cn."))
    assert.is_false(proxy.exempt("coze.cn", "notcoze.cn"))
    assert.is_false(proxy.exempt("", "coze.cn"))
    assert.is_false(proxy.exempt(nil, "coze.cn"))
  end)

  it("matches IP addresses and IPv4 CIDR ranges, not as name suffixes", function()
    assert.is_true(proxy.exempt("127.0.0.1", "127.0.0.1"))
    assert.is_true(proxy.exempt("10.0.0.0/8", "10.20.30.40"))
    assert.is_false(proxy.exempt("10.0.0.0/8", "11.0.0.1"))
    assert.is_false(proxy.exempt("0.0.1", "127.0.0.1"))
    assert.is_true(proxy.exempt("::1", "::1"))
    assert.is_false(proxy.exempt("[::1]", "::1")) -- libcurl 7.88 compares IPv6 as names
    assert.is_false(proxy.exempt("0.0.0.0/0", "127.0.0.1")) -- /0 means /32 to libcurl
  end)

  -- The same decisions as the libcurl the curl transport runs on, asked over real sockets: a call
  -- through a proxy where nothing listens (port 1) to a port where nothing listens (9); the error
  -- names port 1 when the call went to the proxy.
  it("decides as the libcurl it runs on", function()
    local core = require "coze.core"
    local s = core.session()
    local function curl_exempts(np, host)
      local r = s:request { method = "GET", url = "http://" .. (host:find(":") and "[" .. host .. "]" or host) .. ":9/",
        proxy = "http://127.0.0.1:1", no_proxy = np, connect_timeout_ms = 2000 }
      local _, err = r:wait_headers(5000)
      r:close()
      return not tostring(err):find("127.0.0.1 port 1 ", 1, true)
    end
    for _, c in ipairs {
      { "127.0.0.1", "127.0.0.1" }, { "127.0.0.0/8", "127.0.0.1" }, { "0.0.0.0/0", "127.0.0.1" },
      { "127.0.0.1/0", "127.0.0.1" }, { "127.0.0.2/31", "127.0.0.1" }, { "127.0.0.1/33", "127.0.0.1" },
      { "127.0.0", "127.0.0.1" }, { "0.0.1", "127.0.0.1" }, { "localhost", "127.0.0.1" },
      { "::1", "::1" }, { "[::1]", "::1" }, { "0:0::1", "::1" }, { "::1/128", "::1" }, { ":1", "::1" },
      { "localhost", "localhost" }, { ".localhost", "localhost" }, { "localhost.", "localhost" },
      { "calhost", "localhost" }, { "*", "localhost" }, { "x, *", "localhost" }, { " localhost , x", "localhost" },
      { "x localhost", "localhost" }, { "LOCALHOST", "localhost" }, { "localhost:9", "localhost" },
      { "127.0.0.1", "localhost" }, { "example.invalid", "sub.example.invalid" },
      { "ample.invalid", "sub.example.invalid" }, { "sub.example.invalid", "example.invalid" },
    } do
      assert.equal(curl_exempts(c[1], c[2]), proxy.exempt(c[1], c[2]), "no_proxy=" .. c[1] .. " host=" .. c[2])
    end
    s:close()
  end)
end)

describe("coze.transport.proxy.pool_name", function()
  local core = require "coze.core"
  local function hex(s) return (s:gsub(".", function(c) return string.format("%02x", c:byte()) end)) end
  local function digest(cmd, s) -- a hex digest from the openssl command line (md5 is not in coze.core)
    local path = os.tmpname()
    local f = assert(io.open(path, "wb")); f:write(s); f:close()
    local p = assert(io.popen("openssl dgst -" .. cmd .. " -r " .. path))
    local out = p:read("*l"):match("^(%x+)")
    p:close()
    os.remove(path)
    return out
  end

  it("names the proxy alone without credentials", function()
    assert.equal("p:3128", proxy.pool_name(proxy.parse("http://p:3128")))
  end)

  it("gives each credential set its own pool, the same one every time", function()
    local a = proxy.pool_name(proxy.parse("http://user:secret@p:3128"))
    local b = proxy.pool_name(proxy.parse("http://user:other@p:3128"))
    assert.are_not.equal(a, b)
    assert.equal(a, proxy.pool_name(proxy.parse("http://user:secret@p:3128")))
    assert.equal(1, select(2, a:gsub("^p:3128:", "")))
  end)

  it("holds no plain hash of the credentials (a dictionary would reverse it), nor the credentials", function()
    local auth = "user:secret"
    local name = proxy.pool_name(proxy.parse("http://" .. auth .. "@p:3128"))
    local tag = name:match("^p:3128:(.+)$")
    local raw = core.base64url_decode(tag)
    for _, d in ipairs { digest("md5", auth), digest("sha1", auth), hex(core.sha256(auth)) } do
      assert.is_nil(name:lower():find(d:sub(1, 8), 1, true))
      assert.is_nil(hex(raw):find(d:sub(1, 8), 1, true))
    end
    assert.is_nil(name:find("secret", 1, true))
    assert.is_nil(name:find(core.base64url_encode(auth), 1, true))
  end)
end)

describe("coze.transport.proxy.parse", function()
  it("defaults to http:// and port 1080, as libcurl", function()
    assert.same({ host = "proxy.local", port = 1080, name = "proxy.local:1080" }, proxy.parse("proxy.local"))
    assert.same({ host = "p", port = 3128, name = "p:3128" }, proxy.parse("http://p:3128/"))
    assert.same({ host = "::1", port = 8080, name = "[::1]:8080" }, proxy.parse("http://[::1]:8080"))
  end)

  it("decodes the credentials and keeps them out of the name", function()
    local p = proxy.parse("http://us%3Aer:p%40ss@p:3128")
    assert.equal("us:er:p@ss", p.auth)
    assert.equal("p:3128", p.name)
  end)

  it("refuses other proxy schemes without echoing the credentials", function()
    local p, msg = proxy.parse("socks5://u:secret@p:1080")
    assert.is_nil(p)
    assert.truthy(msg:find("only http://", 1, true))
    assert.is_nil(msg:find("secret", 1, true))
  end)
end)
