-- core.json_decode against lua-cjson 2.1.0: the same accept/reject decision and the same values,
-- on every fixture in spec/fixtures/json, on generated documents and on mutated fixtures.
-- Fixture prefixes: y_ valid JSON, i_ not JSON but accepted by cjson (we match it),
-- n_ rejected by both, d_ a deliberate difference (cjson stops at a NUL byte, we reject).
local cjson = require "cjson"
local core = require "coze.core"
local lfs = require "lfs"

local mtype = math.type -- nil on LuaJIT: every number is a float there, as in cjson
local FIXTURES = "spec/fixtures/json/"

local function read(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("*a")
  f:close()
  return s
end

local function fixtures()
  local names = {}
  for name in lfs.dir(FIXTURES) do
    if name:match("%.json$") then names[#names + 1] = name end
  end
  table.sort(names)
  return names
end

-- Deep equality of ours (a) and cjson's (b); on mismatch returns false and the path.
-- Numbers: our value as a float equals cjson's (our integers are exact where cjson rounds);
-- NaN matches NaN; the sign of zero must match.
local function same(a, b, path)
  path = path or "$"
  if type(a) ~= type(b) then
    return false, path .. ": " .. type(a) .. " vs " .. type(b)
  end
  if type(a) == "number" then
    if a ~= a then
      return b ~= b, path .. ": NaN vs " .. tostring(b)
    end
    local fa = a * 1.0 -- not a + 0.0: -0.0 + 0.0 is +0.0
    if fa ~= b or (fa == 0 and 1 / fa ~= 1 / b) then
      return false, path .. ": " .. string.format("%.17g vs %.17g", a, b)
    end
    return true
  end
  if type(a) == "table" then
    for k, v in pairs(a) do
      local ok, where = same(v, rawget(b, k), path .. "[" .. tostring(k) .. "]")
      if not ok then return false, where end
    end
    for k in pairs(b) do
      if rawget(a, k) == nil then return false, path .. "[" .. tostring(k) .. "] missing" end
    end
    return true
  end
  return a == b, path .. ": " .. tostring(a) .. " vs " .. tostring(b)
end

-- Checks one input against cjson; returns nil when they agree, else a description.
local function compare(s)
  local v, err = core.json_decode(s)
  if v == nil then
    if type(err) ~= "string" or not err:match("at character %d+$") then
      return "error without position: " .. tostring(err)
    end
  end
  local nul = s:find("\0", 1, true)
  if nul then -- cjson reads up to the first NUL: ours must reject, and agree on the prefix
    if v ~= nil then return "accepted an input holding a NUL byte" end
    if nul <= 2 then return nil end -- cjson: "does not support UTF-16"
    v, err = core.json_decode(s:sub(1, nul - 1))
  end
  local ok, cv = pcall(cjson.decode, s)
  if ok ~= (v ~= nil) then
    return "ours " .. (v ~= nil and "accepts" or "rejects (" .. tostring(err) .. ")") ..
      ", cjson " .. (ok and "accepts" or "rejects (" .. tostring(cv) .. ")")
  end
  if ok then
    local eq, where = same(v, cv)
    if not eq then return "values differ at " .. where end
  end
  return nil
end

-- On Lua 5.3+, every decimal integer literal in range must come back as that exact integer.
local function check_integers(s, v)
  if not mtype then return end
  local ints = {}
  local function walk(x)
    if type(x) == "table" then
      for _, y in pairs(x) do walk(y) end
    elseif mtype(x) == "integer" then
      ints[#ints + 1] = x
    end
  end
  walk(v)
  -- number tokens outside strings (in valid JSON '-' and digits appear nowhere else)
  local bare, i = {}, 1
  while i <= #s do
    local c = s:sub(i, i)
    if c == '"' then
      i = i + 1
      while s:sub(i, i) ~= '"' do i = i + (s:sub(i, i) == "\\" and 2 or 1) end
      bare[#bare + 1] = " "
    else
      bare[#bare + 1] = c
    end
    i = i + 1
  end
  local want = 0
  for lit in table.concat(bare):gmatch("[%-%d][%d%.eE%+%-]*") do
    if lit:match("^%-?%d+$") and lit ~= "-0" and mtype(tonumber(lit)) == "integer" then
      want = want + 1
    end
  end
  assert.equal(want, #ints, "integer-typed values vs integer literals in range")
end

describe("core.json_decode fixtures", function()
  for _, name in ipairs(fixtures()) do
    local kind = name:sub(1, 2)
    local s = read(FIXTURES .. name)
    if kind == "y_" or kind == "i_" then
      it(name .. ": accepted by both with equal values", function()
        local v, err = core.json_decode(s)
        assert.is_not_nil(v, err)
        assert.is_nil(compare(s))
        if kind == "y_" and not name:find("duplicate") then check_integers(s, v) end
      end)
    elseif kind == "n_" then
      it(name .. ": rejected by both, with a position", function()
        local v, err = core.json_decode(s)
        assert.is_nil(v)
        assert.matches("at character %d+$", err)
        assert.is_false((pcall(cjson.decode, s)))
      end)
    elseif kind == "d_" then
      it(name .. ": rejected by us though cjson stops at the NUL and accepts", function()
        local v, err = core.json_decode(s)
        assert.is_nil(v)
        assert.matches("NUL byte at character %d+$", err)
        assert.is_true((pcall(cjson.decode, s)))
        assert.is_nil(compare(s))
      end)
    end
  end
end)

describe("core.json_decode numbers", function()
  local literals = {
    "0", "1", "-1", "42", "1760167093", "-1760167093", "9007199254740991", "9007199254740992",
    "9007199254740993", "-9007199254740993", "9223372036854775807", "-9223372036854775808",
    "9223372036854775808", "-9223372036854775809", "18446744073709551616",
    "123456789012345678901234567890", "1234567890123456789", "12345678901234567890",
  }
  for _, lit in ipairs(literals) do
    it("decodes the integer literal " .. lit .. " as Lua would read it, equal to cjson", function()
      local v = core.json_decode(lit)
      assert.is_nil(compare(lit))
      if mtype then
        local want = tonumber(lit) -- Lua's own rule: integer if it fits, else float
        assert.equal(mtype(want), mtype(v))
        assert.is_true(v == want)
      else
        assert.equal(cjson.decode(lit), v)
      end
    end)
  end

  it("keeps -0 a float negative zero, as cjson", function()
    for _, lit in ipairs({"-0", "-0.0", "-0e5", "[-0]"}) do
      local v = core.json_decode(lit)
      if type(v) == "table" then v = v[1] end
      if mtype then assert.equal("float", mtype(v)) end
      assert.equal(-math.huge, 1 / v)
    end
  end)

  it("decodes fractions and exponents to cjson's (strtod's) correctly rounded doubles", function()
    local rnd = 12345
    local function rand(n) rnd = (rnd * 1103515245 + 12345) % 2147483648; return rnd % n end
    for _ = 1, 5000 do
      local digits = {}
      for k = 1, 1 + rand(20) do digits[k] = tostring(rand(10)) end
      local m = table.concat(digits)
      local cut = rand(#m + 1)
      local lit = (rand(2) == 0 and "-" or "") .. (m:sub(1, cut) == "" and "0" or m:sub(1, cut):gsub("^0+(%d)", "%1"))
      if cut < #m then lit = lit .. "." .. m:sub(cut + 1) end
      if rand(2) == 0 then lit = lit .. "e" .. ({"", "+", "-"})[rand(3) + 1] .. rand(330) end
      local d = compare(lit)
      assert.is_nil(d, lit .. ": " .. tostring(d))
      local v = core.json_decode(lit)
      if mtype and mtype(v) == "float" and not lit:find("[%.e]") then
        assert.is_true(lit:match("^%-0$") ~= nil or mtype(tonumber(lit)) == "float", lit)
      end
    end
  end)

  it("turns float literals into floats even when integral (1.0, 1e2)", function()
    if not mtype then return end
    for _, lit in ipairs({"1.0", "1e2", "1E+2", "100e-2", "0.0", "2e0"}) do
      assert.equal("float", mtype(core.json_decode(lit)), lit)
    end
  end)

  it("matches cjson on the strtod extensions (hex, +1, 01, 1., inf, nan) with float values", function()
    for _, lit in ipairs({"0x10", "-0x10", "+1", "01", "-01", "00", "1.", "1.e5", "0x1.8p1", "inf",
                          "-Infinity", "NaN", "-nan", "nan(1)", "INF", "-.5"}) do
      assert.is_nil(compare(lit), lit)
      local v = core.json_decode(lit)
      if mtype then assert.equal("float", mtype(v), lit) end
    end
  end)
end)

describe("core.json_decode values", function()
  it("decodes null to lightuserdata(NULL), equal to cjson.null and core.json_null", function()
    local v = core.json_decode('{"a":null,"b":[null]}')
    assert.equal(cjson.null, v.a)
    assert.equal(cjson.null, v.b[1])
    assert.equal(core.json_null, v.a)
    assert.equal("userdata", type(v.a))
    assert.equal(cjson.null, core.json_decode("null"))
  end)

  it("decodes arrays to sequences and objects to hash tables", function()
    local v = core.json_decode('[1,[2,3],{"x":[]}]')
    assert.equal(3, #v)
    assert.equal(2, #v[2])
    assert.same({}, v[3].x)
  end)

  it("keeps the last of duplicate keys, before and after the table is created", function()
    assert.equal(3, core.json_decode('{"a":1,"b":2,"a":3}').a)
    local parts = {}
    for i = 1, 80 do parts[i] = '"k":' .. i end
    assert.equal(80, core.json_decode("{" .. table.concat(parts, ",") .. "}").k)
  end)

  it("decodes the Coze delta payload", function()
    local v = core.json_decode(read(FIXTURES .. "y_coze_delta.json"))
    assert.equal("hello ", v.content)
    assert.equal("7390029769854844001", v.id)
    assert.equal(1760167093, v.created_at)
    if mtype then assert.equal("integer", mtype(v.created_at)) end
  end)

  it("decodes escapes and surrogate pairs to UTF-8", function()
    assert.equal("\"\\/\b\f\n\r\t", core.json_decode([["\"\\\/\b\f\n\r\t"]]))
    assert.equal("\195\169\228\184\173\240\159\152\128",
      core.json_decode([["\u00e9\u4e2d\ud83d\ude00"]]))
    assert.equal("a\0b", core.json_decode([["a\u0000b"]]))
  end)

  it("coerces a number argument to its string, as cjson does", function()
    assert.equal(123, core.json_decode(123))
  end)
end)

describe("core.json_decode errors", function()
  it("returns nil and a message with the 1-based position", function()
    local v, err = core.json_decode('{"a":1,}')
    assert.is_nil(v)
    assert.equal("Expected object key string but found '}' at character 8", err)
    v, err = core.json_decode("[1 2]")
    assert.is_nil(v)
    assert.equal("Expected comma or array end but found '2' at character 4", err)
    v, err = core.json_decode("")
    assert.is_nil(v)
    assert.equal("Expected value but found the end at character 1", err)
    v, err = core.json_decode([["\ud800"]])
    assert.is_nil(v)
    assert.equal("Expected value but found invalid unicode escape code at character 2", err)
  end)

  it("leaves the Lua stack clean after an error deep inside", function()
    for _ = 1, 100 do
      assert.is_nil((core.json_decode('[{"a":[1,2,{"b":"x\\q"}]}]')))
    end
    local a, b, c = core.json_decode("[1,")
    assert.is_nil(a)
    assert.is_string(b)
    assert.is_nil(c)
  end)

  it("limits nesting to 1000 by default, as cjson", function()
    assert.is_table(core.json_decode(("["):rep(1000) .. ("]"):rep(1000)))
    local v, err = core.json_decode(("["):rep(1001) .. ("]"):rep(1001))
    assert.is_nil(v)
    assert.equal("Found too many nested data structures (1001) at character 1001", err)
  end)

  it("takes max_depth as a second argument", function()
    assert.is_table(core.json_decode("[[[]]]", 3))
    assert.is_nil((core.json_decode("[[[]]]", 2)))
    assert.is_nil((core.json_decode('{"a":{"b":1}}', 1)))
    assert.equal(1, core.json_decode("1", 1))
    assert.is_table(core.json_decode(("["):rep(5000) .. ("]"):rep(5000), 5000))
  end)

  it("raises on misuse: no string, bad max_depth", function()
    assert.has_error(function() core.json_decode() end)
    assert.has_error(function() core.json_decode({}) end)
    assert.has_error(function() core.json_decode("1", 0) end)
    assert.has_error(function() core.json_decode("1", 10001) end)
    assert.has_error(function() core.json_decode("1", "x") end)
  end)
end)

describe("core.json_decode against cjson on generated input", function()
  local rnd = 987654321
  local function rand(n) rnd = (rnd * 1103515245 + 12345) % 2147483648; return rnd % n end
  local words = {"", "a", "hello ", "\"q\"", "back\\slash", "tab\t", "line\n", "中文", "😀",
                 "\1\31", "/", "\127", "key"}
  local function gen(depth)
    local r = rand(depth > 3 and 6 or 9)
    if r == 0 then return rand(2) == 0 end
    if r == 1 then return cjson.null end
    if r == 2 then return rand(2000000) - 1000000 end
    if r == 3 then return (rand(2000000) - 1000000) / (rand(1000) + 1) end
    if r == 4 or r == 5 then return words[rand(#words) + 1] .. words[rand(#words) + 1] end
    if r == 6 or r == 7 then
      local t = {}
      for i = 1, rand(12) do t[i] = gen(depth + 1) end
      return t
    end
    local t = {}
    for _ = 1, rand(12) do t[words[rand(#words) + 1] .. rand(50)] = gen(depth + 1) end
    return t
  end

  it("agrees on 2000 documents encoded by cjson", function()
    for i = 1, 2000 do
      local s = cjson.encode(gen(0))
      local d = compare(s)
      assert.is_nil(d, "document " .. i .. ": " .. tostring(d) .. "\n" .. s:sub(1, 300))
    end
  end)

  it("agrees on 20000 mutations of the fixtures", function()
    local names = fixtures()
    local alphabet = '{}[]:,"\\ \t\n\r0123456789-+.eExXabfnrtu\0\255\194\160INaif/'
    local seeds = {}
    for _, name in ipairs(names) do
      local s = read(FIXTURES .. name)
      if #s <= 2048 then seeds[#seeds + 1] = s end
    end
    for i = 1, 20000 do
      local s = seeds[rand(#seeds) + 1]
      for _ = 0, rand(4) do
        local pos = rand(#s + 1) + 1
        local op = rand(3)
        local c = alphabet:sub(rand(#alphabet) + 1, rand(#alphabet) + 1)
        if op == 0 then s = s:sub(1, pos - 1) .. c .. s:sub(pos)
        elseif op == 1 then s = s:sub(1, pos - 1) .. s:sub(pos + 1)
        else s = s:sub(1, pos - 1) .. c .. s:sub(pos + 1) end
      end
      local d = compare(s)
      assert.is_nil(d, "mutation " .. i .. ": " .. tostring(d) .. "\n" .. string.format("%q", s:sub(1, 300)))
    end
  end)
end)
