-- Paged answers for the catalog's list operations, one helper per scheme (see lua/coze/pager.lua).
-- The list holds 23 items unless the request says otherwise; item ids are 19-digit strings
-- ("7390000000000000001" ...), copies of the operation's sample item. Request headers:
--   X-Emu-Paging-Total: N       number of items (default 23)
--   X-Emu-Paging-Fail: next     every request for a page after the first fails (code 5000)
--   X-Emu-Paging-Broken: 1      a broken server: tokens / cursors repeat, has_more stays true
--   X-Emu-Paging-Broken: alternate  tokens / cursors alternate between two pages (A, B, A, ...), has_more true
--   X-Emu-Paging-Broken: stuck  every answer is the first page with has_more true (and a fresh token)
--   X-Emu-Paging-Bare: 1        page-number schemes answer the list alone (no has_more, no total)
local util = require "emu.util"
local cjson = util.json

local _M = {}

_M.DEFAULT_TOTAL = 23

local empty_mt = cjson.empty_array_mt
local function array(t)
  if empty_mt and next(t) == nil then return setmetatable(t, empty_mt) end
  return t
end

local samples = {}
local function sample(e)
  local s = samples[e.op]
  if s == nil then
    s = cjson.decode(e.item_json or "{}") or {}
    samples[e.op] = s
  end
  return s
end

local function item_id(i) return string.format("739000000000000%04d", i) end

local function item(e, i)
  local it = {}
  for k, v in pairs(sample(e)) do it[k] = v end
  it.id = item_id(i)
  if it.name ~= nil then it.name = "item " .. i end
  return it
end

local function slice(e, from, to)
  local list = {}
  for i = from, to do list[#list + 1] = item(e, i) end
  return array(list)
end

local function header(name)
  local v = ngx.req.get_headers()[name]
  if type(v) == "table" then v = v[1] end
  return v
end

-- A request parameter from the query string or the JSON body.
local function param(args, body, name)
  local v = args[name]
  if type(v) == "table" then v = v[1] end
  if v == nil and type(body) == "table" then v = body[name] end
  if v == cjson.null then v = nil end
  return v
end

local PAGE_PARAMS = {
  page_num = { "page_num", "page_size" },
  page_index = { "page_index", "page_size" },
  page_size_body = { "page", "size" },
}

local function send(e, result)
  if e.paging.top then
    local body = { code = 0, msg = "", detail = { logid = util.request_logid() } }
    for k, v in pairs(result) do body[k] = v end
    return util.send_json(200, body)
  end
  return util.ok(result)
end

function _M.serve(e)
  local pg = e.paging
  local args = ngx.req.get_uri_args(100)
  local body = util.body_json() or {}
  local n = tonumber(header("x-emu-paging-total")) or _M.DEFAULT_TOTAL
  local fail_next = header("x-emu-paging-fail") == "next"
  local mode = header("x-emu-paging-broken")
  local broken = mode == "1"
  local alternate, stuck = mode == "alternate", mode == "stuck"
  local bare = header("x-emu-paging-bare") == "1"
  local res = {}

  if PAGE_PARAMS[pg.paging] then
    local names = PAGE_PARAMS[pg.paging]
    local p = tonumber(param(args, body, names[1])) or 1
    local size = tonumber(param(args, body, names[2])) or 10
    if stuck or alternate then p = 1 end
    broken = broken or stuck or alternate
    if p < 1 or size < 1 then return util.fail(4000, "请求参数错误: bad page " .. tostring(p) .. "/" .. tostring(size)) end
    if fail_next and p > 1 then return util.fail(5000, "emulated failure on page " .. p) end
    local from, to = (p - 1) * size + 1, math.min(n, p * size)
    res[pg.items] = slice(e, from, to)
    if not bare then
      if pg.total then res[pg.total] = n end
      if pg.has_more then res.has_more = broken or to < n end
    end
    return send(e, res)
  end

  if pg.paging == "page_token" then
    local tok = param(args, body, "page_token") or ""
    local size = tonumber(param(args, body, "page_size")) or 10
    local offset = 0
    if tok ~= "" then
      offset = tonumber(tok:match("^tok_(%d+)$"))
      if not offset then return util.fail(4000, "请求参数错误: invalid page_token") end
      if fail_next then return util.fail(5000, "emulated failure at token " .. tok) end
    end
    local to = math.min(n, offset + size)
    res[pg.items] = slice(e, offset + 1, to)
    local nxt = to < n and ("tok_" .. to) or ""
    if broken then nxt = tok ~= "" and tok or ("tok_" .. size) end
    if alternate then nxt = offset == size and ("tok_" .. 2 * size) or ("tok_" .. size) end
    if stuck then
      res[pg.items] = slice(e, 1, math.min(n, size))
      nxt = "tok_" .. ngx.shared.emu:incr("paging:stuck", 1, 0) % 1000
    end
    broken = broken or alternate or stuck    res[pg.next_token or "next_page_token"] = nxt
    res.has_more = broken or nxt ~= ""
    return send(e, res)
  end

  -- first_last_id: before_id / after_id / limit -> data, first_id, last_id, has_more
  local limit = tonumber(param(args, body, "limit")) or 50
  local before, after = param(args, body, "before_id"), param(args, body, "after_id")
  if before == "0" or before == "" then before = nil end
  if after == "0" or after == "" then after = nil end
  if (before or after) and fail_next then return util.fail(5000, "emulated failure at a cursor") end
  local from, to, more
  if alternate and after then -- after_id alternates between the ids ending pages 1 and 2
    local idx = tonumber(tostring(after):match("^739000000000000(%d%d%d%d)$")) or 0
    from, to, more = idx + 1, idx + limit, true
    local list = slice(e, from, to)
    res[pg.items] = list
    res.first_id, res.last_id = list[1].id, idx == limit and item_id(2 * limit) or item_id(limit)
    res.has_more = true
    return send(e, res)
  end
  if broken or stuck or alternate or not (before or after) then
    broken = broken or stuck or alternate
    from, to = 1, math.min(n, limit)
    more = broken or to < n
  elseif after then
    local idx = tonumber(tostring(after):match("^739000000000000(%d%d%d%d)$"))
    if not idx then return util.fail(4000, "请求参数错误: unknown after_id") end
    from, to = idx + 1, math.min(n, idx + limit)
    more = to < n
  else
    local idx = tonumber(tostring(before):match("^739000000000000(%d%d%d%d)$"))
    if not idx then return util.fail(4000, "请求参数错误: unknown before_id") end
    to = idx - 1
    from = math.max(1, to - limit + 1)
    more = from > 1
  end
  local list = slice(e, from, to)
  res[pg.items] = list
  res.first_id = list[1] and list[1].id or ""
  res.last_id = list[#list] and list[#list].id or ""
  res.has_more = more
  return send(e, res)
end

return _M
