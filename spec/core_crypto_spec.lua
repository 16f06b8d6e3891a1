-- coze.core crypto: base64/base64url, SHA-256, PKCE, random bytes, RSA keys, RS256 and JWT.
-- Signatures are checked independently with the openssl CLI.
local core = require "coze.core"

local KEYS = "spec/fixtures/keys/"

local function read(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("*a")
  f:close()
  return s
end

local function write(path, s)
  local f = assert(io.open(path, "wb"))
  f:write(s)
  f:close()
end

local function hex(s)
  return (s:gsub(".", function(c) return string.format("%02x", c:byte()) end))
end

-- os.execute that answers true/false on Lua 5.1 (status number) and 5.4 (true, "exit", code) alike.
local function run(cmd)
  local a, _, c = os.execute(cmd)
  if type(a) == "number" then return a == 0 end
  return a == true and (c == nil or c == 0)
end

local function shell_quote(s)
  return "'" .. s:gsub("'", "'\\''") .. "'"
end

-- True when openssl accepts sig as an RS256 signature of msg under the public key file.
local function openssl_verify(pub_path, msg, sig)
  local m, s = os.tmpname(), os.tmpname()
  write(m, msg)
  write(s, sig)
  local ok = run("openssl dgst -sha256 -verify " .. shell_quote(pub_path) .. " -signature " .. shell_quote(s)
    .. " " .. shell_quote(m) .. " >/dev/null 2>&1")
  os.remove(m)
  os.remove(s)
  return ok
end

local function openssl_base64(data)
  local p = os.tmpname()
  write(p, data)
  local h = io.popen("openssl base64 -A -in " .. shell_quote(p))
  local out = h:read("*a")
  h:close()
  os.remove(p)
  return out
end

local function all_bytes()
  local t = {}
  for i = 0, 255 do t[#t + 1] = string.char(i) end
  return table.concat(t)
end

-- No 16-character run of any base64 line of the PEM text appears in msg.
local function assert_no_key_bytes(msg, pem)
  for line in pem:gmatch("[^\n]+") do
    if not line:find("-----", 1, true) and #line >= 16 then
      for i = 1, #line - 15, 8 do
        assert.is_nil(msg:find(line:sub(i, i + 15), 1, true))
      end
    end
  end
end

local RFC4648 = {
  { "", "", "" },
  { "f", "Zg", "Zg==" },
  { "fo", "Zm8", "Zm8=" },
  { "foo", "Zm9v", "Zm9v" },
  { "foob", "Zm9vYg", "Zm9vYg==" },
  { "fooba", "Zm9vYmE", "Zm9vYmE=" },
  { "foobar", "Zm9vYmFy", "Zm9vYmFy" },
}

describe("core.base64url", function()
  it("encodes the RFC 4648 test vectors without padding", function()
    for _, v in ipairs(RFC4648) do
      assert.equal(v[2], core.base64url_encode(v[1]))
    end
  end)

  it("decodes the RFC 4648 test vectors with or without padding", function()
    for _, v in ipairs(RFC4648) do
      assert.equal(v[1], core.base64url_decode(v[2]))
      assert.equal(v[1], core.base64url_decode(v[3]))
    end
  end)

  it("round-trips every byte value 0..255 using only the URL-safe alphabet", function()
    local bytes = all_bytes()
    for n = 0, 256 do
      local s = bytes:sub(1, n)
      local enc = core.base64url_encode(s)
      assert.is_nil(enc:find("[^A-Za-z0-9_%-]"))
      assert.equal(s, core.base64url_decode(enc))
    end
    assert.equal(bytes:reverse(), core.base64url_decode(core.base64url_encode(bytes:reverse())))
  end)

  it("is the standard encoding with -_ for +/ and no padding", function()
    local bytes = all_bytes()
    local std = core.base64_encode(bytes)
    local url = std:gsub("%+", "-"):gsub("/", "_"):gsub("=", "")
    assert.equal(url, core.base64url_encode(bytes))
  end)

  it("round-trips inputs larger than one OpenSSL chunk", function()
    for _, n in ipairs({ 12287, 12288, 12289, 100001 }) do
      local s = core.random_bytes(4096):rep(math.ceil(n / 4096)):sub(1, n)
      assert.equal(s, core.base64url_decode(core.base64url_encode(s)))
      assert.equal(s, core.base64_decode(core.base64_encode(s)))
    end
  end)

  it("returns nil and a reason for invalid input", function()
    local bad = { "Zm9vY", "Zm9v!", "Zm+v", "Zm/v", "Zm9vYh", "Zm9=", "Zg=", "Z===", "Zm9v Zg", "=Zm9",
      "Zg==Zg", "Zm9v\0" }
    for _, s in ipairs(bad) do
      local v, err = core.base64url_decode(s)
      assert.is_nil(v, s)
      assert.matches("invalid base64url", err)
    end
  end)

  it("raises naming 's' when the argument is not a string", function()
    assert.has_error(function() core.base64url_encode(nil) end)
    local ok, err = pcall(core.base64url_decode, {})
    assert.is_false(ok)
    assert.matches("'s' must be a string", err)
  end)
end)

describe("core.base64", function()
  it("encodes and decodes the RFC 4648 test vectors with padding", function()
    for _, v in ipairs(RFC4648) do
      assert.equal(v[3], core.base64_encode(v[1]))
      assert.equal(v[1], core.base64_decode(v[3]))
    end
  end)

  it("matches openssl base64 on random data", function()
    local s = core.random_bytes(4096) .. core.random_bytes(1000)
    assert.equal(openssl_base64(s), core.base64_encode(s))
  end)

  it("rejects missing padding and URL-safe characters", function()
    for _, s in ipairs({ "Zg", "Zm8", "Zm-v", "Zm_v", "Zm9vYh==", "Zg===" }) do
      local v, err = core.base64_decode(s)
      assert.is_nil(v, s)
      assert.matches("invalid base64", err)
    end
  end)
end)

describe("core.sha256", function()
  it("hashes the FIPS 180-2 vectors", function()
    assert.equal("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", hex(core.sha256("")))
    assert.equal("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", hex(core.sha256("abc")))
    assert.equal("248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
      hex(core.sha256("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")))
    assert.equal("cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0",
      hex(core.sha256(("a"):rep(1000000))))
  end)

  it("returns 32 raw bytes and hashes embedded NULs", function()
    local d = core.sha256("a\0b")
    assert.equal(32, #d)
    assert.are_not.equal(core.sha256("a"), d)
  end)

  it("raises naming 's' for a non-string", function()
    local ok, err = pcall(core.sha256, 42)
    assert.is_false(ok)
    assert.matches("'s' must be a string, got number", err)
  end)
end)

describe("core.hmac_sha256", function()
  it("answers RFC 4231's vectors", function()
    assert.equal("b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
      hex(core.hmac_sha256(("\x0b"):rep(20), "Hi There")))
    assert.equal("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
      hex(core.hmac_sha256("Jefe", "what do ya want for nothing?")))
    -- a key longer than the block is hashed first (test case 6)
    assert.equal("60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
      hex(core.hmac_sha256(("\xaa"):rep(131), "Test Using Larger Than Block-Size Key - Hash Key First")))
  end)

  it("takes an empty key and message, and NULs in both", function()
    assert.equal(32, #core.hmac_sha256("", ""))
    assert.are_not.equal(core.hmac_sha256("k\0a", "m"), core.hmac_sha256("k\0b", "m"))
    assert.are_not.equal(core.hmac_sha256("k", "m\0a"), core.hmac_sha256("k", "m\0b"))
  end)

  it("raises naming the argument that is not a string", function()
    local ok, err = pcall(core.hmac_sha256, "k", 42)
    assert.is_false(ok)
    assert.matches("'msg' must be a string, got number", err)
  end)
end)

describe("core.pkce_challenge", function()
  -- RFC 7636 Appendix B.
  local octets = string.char(116, 24, 223, 180, 151, 153, 224, 37, 79, 250, 96, 125, 216, 173, 187, 186, 22, 212,
    37, 77, 105, 214, 191, 240, 91, 88, 5, 88, 83, 132, 141, 121)
  local verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"

  it("derives the RFC 7636 Appendix B verifier from its octets", function()
    assert.equal(verifier, core.base64url_encode(octets))
  end)

  it("gives the RFC 7636 Appendix B S256 challenge, S256 being the default", function()
    assert.equal("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", core.pkce_challenge(verifier, "S256"))
    assert.equal("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", core.pkce_challenge(verifier))
  end)

  it("returns the verifier itself for plain", function()
    assert.equal(verifier, core.pkce_challenge(verifier, "plain"))
  end)

  it("raises naming 'method' for an unknown method", function()
    local ok, err = pcall(core.pkce_challenge, verifier, "S512")
    assert.is_false(ok)
    assert.matches("'method' must be", err)
    ok, err = pcall(core.pkce_challenge, verifier, 256)
    assert.is_false(ok)
    assert.matches("'method' must be a string", err)
  end)

  it("raises naming 'verifier' when it is missing", function()
    local ok, err = pcall(core.pkce_challenge)
    assert.is_false(ok)
    assert.matches("'verifier' must be a string", err)
  end)
end)

describe("core.random_bytes", function()
  it("returns exactly n bytes for n in 1..4096", function()
    for _, n in ipairs({ 1, 2, 31, 32, 33, 1000, 4096 }) do
      assert.equal(n, #core.random_bytes(n))
    end
  end)

  it("differs between two calls", function()
    assert.are_not.equal(core.random_bytes(32), core.random_bytes(32))
  end)

  it("raises naming 'n' outside 1..4096 or for a non-integer", function()
    for _, n in ipairs({ 0, -1, 4097, 1.5, 0 / 0, math.huge }) do
      local ok, err = pcall(core.random_bytes, n)
      assert.is_false(ok)
      assert.matches("'n' must be an integer from 1 to 4096", err)
    end
    local ok, err = pcall(core.random_bytes, "8")
    assert.is_false(ok)
    assert.matches("'n' must be an integer, got string", err)
    assert.is_false(pcall(core.random_bytes))
  end)
end)

describe("core.random_token", function()
  it("is base64url of n random bytes, 32 by default", function()
    local t = core.random_token(32)
    assert.equal(43, #t)
    assert.is_nil(t:find("[^A-Za-z0-9_%-]"))
    assert.equal(32, #core.base64url_decode(t))
    assert.equal(43, #core.random_token())
    assert.equal(4, #core.random_token(3))
    assert.are_not.equal(core.random_token(16), core.random_token(16))
  end)

  it("raises naming 'n_bytes' for a bad count", function()
    local ok, err = pcall(core.random_token, 0)
    assert.is_false(ok)
    assert.matches("'n_bytes' must be an integer", err)
  end)
end)

describe("core.rsa_key", function()
  local pkcs8, pkcs1 = read(KEYS .. "rsa_pkcs8.pem"), read(KEYS .. "rsa_pkcs1.pem")

  it("loads a PKCS#8 and a traditional PKCS#1 RSA private key", function()
    assert.matches("BEGIN PRIVATE KEY", pkcs8)
    assert.matches("BEGIN RSA PRIVATE KEY", pkcs1)
    local k8, err8 = core.rsa_key(pkcs8)
    assert.is_nil(err8)
    assert.equal("userdata", type(k8))
    local k1, err1 = core.rsa_key(pkcs1)
    assert.is_nil(err1)
    assert.equal("userdata", type(k1))
    k8:close()
    k1:close()
  end)

  it("redacts the key in tostring", function()
    local k = core.rsa_key(pkcs8)
    assert.equal("coze.core.PrivateKey (redacted)", tostring(k))
    k:close()
    assert.equal("coze.core.PrivateKey (closed)", tostring(k))
  end)

  local cases = {
    { "rsa_encrypted.pem", "private key is encrypted" },
    { "rsa_pkcs1_encrypted.pem", "private key is encrypted" },
    { "ec_p256.pem", "not an RSA key" },
    { "garbage.pem", "not a PEM private key" },
    { "rsa_pkcs8.pub.pem", "not a PEM private key" },
  }
  for _, c in ipairs(cases) do
    it("returns nil and '" .. c[2] .. "' for " .. c[1] .. " without key bytes in the message", function()
      local pem = read(KEYS .. c[1])
      local k, err = core.rsa_key(pem)
      assert.is_nil(k)
      assert.equal("string", type(err))
      assert.matches(c[2], err, 1, true)
      assert_no_key_bytes(err, pem)
    end)
  end

  it("returns nil and 'not a PEM private key' for text that is no PEM at all", function()
    for _, s in ipairs({ "", "hello", ("x"):rep(10000), pkcs8:sub(1, 200), "-----BEGIN PRIVATE KEY-----\n" }) do
      local k, err = core.rsa_key(s)
      assert.is_nil(k)
      assert.matches("not a PEM private key", err, 1, true)
      assert_no_key_bytes(err, pkcs8)
    end
  end)

  it("does not leave OpenSSL errors behind for later calls", function()
    assert.is_nil(core.rsa_key(read(KEYS .. "garbage.pem")))
    assert.is_nil(core.rsa_key(read(KEYS .. "rsa_encrypted.pem")))
    local k = assert(core.rsa_key(pkcs8))
    local sig = k:sign_rs256("after errors")
    assert.is_true(openssl_verify(KEYS .. "rsa_pkcs8.pub.pem", "after errors", sig))
    k:close()
  end)

  it("raises naming 'pem' for a non-string", function()
    local ok, err = pcall(core.rsa_key, nil)
    assert.is_false(ok)
    assert.matches("'pem' must be a string, got nil", err)
  end)
end)

describe("PrivateKey:sign_rs256", function()
  local keys = {
    { "PKCS#8", "rsa_pkcs8.pem", "rsa_pkcs8.pub.pem" },
    { "PKCS#1", "rsa_pkcs1.pem", "rsa_pkcs1.pub.pem" },
  }
  for _, kk in ipairs(keys) do
    it("makes signatures openssl verifies, with a " .. kk[1] .. " key", function()
      local k = assert(core.rsa_key(read(KEYS .. kk[2])))
      for _, msg in ipairs({ "", "hello", "bin\0ary\255", ("m"):rep(70000) }) do
        local sig = k:sign_rs256(msg)
        assert.equal(256, #sig)
        assert.is_true(openssl_verify(KEYS .. kk[3], msg, sig))
        assert.is_false(openssl_verify(KEYS .. kk[3], msg .. "x", sig))
      end
      k:close()
    end)
  end

  it("is deterministic (PKCS#1 v1.5) and fails verification under another key", function()
    local k = assert(core.rsa_key(read(KEYS .. "rsa_pkcs8.pem")))
    assert.equal(k:sign_rs256("same"), k:sign_rs256("same"))
    assert.is_false(openssl_verify(KEYS .. "rsa_pkcs1.pub.pem", "same", k:sign_rs256("same")))
    k:close()
  end)

  it("raises naming 'msg' for a non-string", function()
    local k = assert(core.rsa_key(read(KEYS .. "rsa_pkcs8.pem")))
    local ok, err = pcall(k.sign_rs256, k, 12)
    assert.is_false(ok)
    assert.matches("'msg' must be a string, got number", err)
    k:close()
  end)

  it("raises naming the class when self is not a PrivateKey", function()
    local ok, err = pcall(function()
      local k = assert(core.rsa_key(read(KEYS .. "rsa_pkcs8.pem")))
      k.sign_rs256("not a key", "x")
    end)
    assert.is_false(ok)
    assert.matches("coze.core.PrivateKey expected", err, 1, true)
  end)
end)

describe("PrivateKey life cycle", function()
  it("close is idempotent and later use raises 'attempt to use a closed PrivateKey'", function()
    local k = assert(core.rsa_key(read(KEYS .. "rsa_pkcs8.pem")))
    k:close()
    k:close()
    local ok, err = pcall(k.sign_rs256, k, "x")
    assert.is_false(ok)
    assert.matches("attempt to use a closed PrivateKey", err)
    ok, err = pcall(core.jwt_rs256, k, "{}", "{}")
    assert.is_false(ok)
    assert.matches("attempt to use a closed PrivateKey", err)
  end)

  it("frees keys on garbage collection", function()
    for _ = 1, 50 do core.rsa_key(read(KEYS .. "rsa_pkcs1.pem")) end
    collectgarbage()
    collectgarbage()
  end)

  if _VERSION == "Lua 5.4" then
    it("closes on leaving a to-be-closed scope", function()
      local chunk = assert(load([[
        local core, pem = ...
        local kept
        do
          local k <close> = assert(core.rsa_key(pem))
          kept = k
        end
        return kept
      ]]))
      local k = chunk(core, read(KEYS .. "rsa_pkcs8.pem"))
      assert.equal("coze.core.PrivateKey (closed)", tostring(k))
    end)
  end
end)

describe("core.jwt_rs256", function()
  local header = '{"alg":"RS256","typ":"JWT","kid":"emu-kid-1"}'
  local payload = '{"iss":"emu-client-jwt","aud":"api.coze.cn","iat":1700000000,"exp":1700000900,'
    .. '"jti":"0123456789abcdef0123456789abcdef","session_name":"user-\226\130\172"}'

  it("builds b64url(header).b64url(payload).b64url(signature) verified by openssl", function()
    local k = assert(core.rsa_key(read(KEYS .. "rsa_pkcs8.pem")))
    local jwt = core.jwt_rs256(k, header, payload)
    local h, p, s = jwt:match("^([A-Za-z0-9_%-]+)%.([A-Za-z0-9_%-]+)%.([A-Za-z0-9_%-]+)$")
    assert.is_not_nil(h)
    assert.equal(header, core.base64url_decode(h))
    assert.equal(payload, core.base64url_decode(p))
    local sig = core.base64url_decode(s)
    assert.equal(256, #sig)
    assert.equal(342, #s)
    assert.is_true(openssl_verify(KEYS .. "rsa_pkcs8.pub.pem", h .. "." .. p, sig))
    assert.equal(k:sign_rs256(h .. "." .. p), sig)
    k:close()
  end)

  it("signs with a PKCS#1 key too", function()
    local k = assert(core.rsa_key(read(KEYS .. "rsa_pkcs1.pem")))
    local jwt = core.jwt_rs256(k, header, payload)
    local signed, s = jwt:match("^(.*)%.([^.]+)$")
    assert.is_true(openssl_verify(KEYS .. "rsa_pkcs1.pub.pem", signed, core.base64url_decode(s)))
    k:close()
  end)

  it("raises naming the missing part", function()
    local k = assert(core.rsa_key(read(KEYS .. "rsa_pkcs8.pem")))
    local ok, err = pcall(core.jwt_rs256, k, nil, payload)
    assert.is_false(ok)
    assert.matches("'header_json' must be a string", err)
    ok, err = pcall(core.jwt_rs256, k, header, {})
    assert.is_false(ok)
    assert.matches("'payload_json' must be a string", err)
    ok, err = pcall(core.jwt_rs256, "key", header, payload)
    assert.is_false(ok)
    assert.matches("coze.core.PrivateKey expected", err, 1, true)
    k:close()
  end)
end)
