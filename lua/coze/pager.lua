-- Pages of list operations. One helper serves the five schemes of the API:
--   page_num        ?page_num=N&page_size=S         -> items, total and/or has_more
--   page_index      ?page_index=N&page_size=S       -> items, total
--   page_token      ?page_token=T&page_size=S       -> items, next_page_token, has_more
--   first_last_id   {before_id|after_id, limit}     -> data, first_id, last_id, has_more
--   page_size_body  {page=N, size=S} in the body    -> document_infos, total
-- A list call performs one request and returns a Page (or nil, err):
--   page.items (array), page.has_more (boolean), page.total (number or nil), page.raw (the decoded
--   result), page.meta (http_status, logid, headers of the answer)
--   page:next_page() -> Page | nil (no more pages) | nil, err
--   page:iter()      -> a function giving the next item across pages, nil at the end, or nil, err
--   page:each()      -> for-loop iterator over every item from this page on; raises the error object
-- Further pages are fetched only when the items before them have been used up. A walk ends when
-- has_more is false, a page is empty, total is reached, the next token / cursor is empty or one
-- the walk already sent (A, B, A ends after B), or a page brings nothing new (the same items as
-- the page before it). Past max_pages pages (an option of the list call, default
-- DEFAULT_MAX_PAGES) the next page is nil, err (kind "decode") instead: a list that long is a
-- server that never ends it, and the caller must know the walk was cut.
local args = require "coze.args"
local errors = require "coze.errors"
local json = require "coze.json"

local _M = {}

local null = json.null

_M.DEFAULT_MAX_PAGES = 10000

-- Names per scheme; an endpoint row overrides any of them.
local DEFAULTS = {
  page_num = { kind = "page", page_param = "page_num", size_param = "page_size", items = "items",
    has_more = "has_more", total = "total" },
  page_index = { kind = "page", page_param = "page_index", size_param = "page_size", items = "items",
    has_more = "has_more", total = "total" },
  page_size_body = { kind = "page", page_param = "page", size_param = "size", items = "document_infos",
    has_more = "has_more", total = "total" },
  page_token = { kind = "token", token_param = "page_token", size_param = "page_size", items = "items",
    has_more = "has_more", total = "total", next_token = "next_page_token" },
  first_last_id = { kind = "cursor", size_param = "limit", items = "data", has_more = "has_more",
    first_id = "first_id", last_id = "last_id", before_param = "before_id", after_param = "after_id" },
}
_M.DEFAULTS = DEFAULTS

local FIELDS = { "items", "has_more", "total", "next_token", "page_param", "size_param", "token_param",
  "first_id", "last_id", "before_param", "after_param" }

-- The paging layout of an endpoint row, or nil when the operation does not page.
function _M.compile(ep)
  local scheme = ep.paging
  if scheme == nil then return nil end
  local d = DEFAULTS[scheme]
  if not d then error("coze: " .. tostring(ep[1]) .. ": unknown paging scheme '" .. tostring(scheme) .. "'", 2) end
  local cfg = { scheme = scheme, kind = d.kind }
  for k, v in pairs(d) do cfg[k] = v end
  for _, k in ipairs(FIELDS) do
    if ep[k] ~= nil then cfg[k] = ep[k] end
  end
  return cfg
end

-- Value at a key path ("a.b") of a decoded result.
local function get(t, path)
  if path == nil then return nil end
  for key in path:gmatch("[^%.]+") do
    if type(t) ~= "table" then return nil end
    t = t[key]
  end
  if t == null then return nil end
  return t
end
_M.get = get

local function is_array(v)
  return type(v) == "table" and (v[1] ~= nil or next(v) == nil)
end

-- The list inside a result: the named key, else the only non-empty array in it.
local function items_of(cfg, raw)
  local v = get(raw, cfg.items)
  if is_array(v) then return v end
  if type(raw) ~= "table" then return {} end
  if raw[1] ~= nil then return raw end
  local found
  for _, x in pairs(raw) do
    if type(x) == "table" and x[1] ~= nil then
      if found then return {} end -- ambiguous: two lists
      found = x
    end
  end
  return found or {}
end

local function copy(t)
  local o = {}
  for k, v in pairs(t) do o[k] = v end
  return o
end

local function nonempty(v)
  if v == nil or v == null or v == "" then return nil end
  return v
end

-- Options of the first request (the page number is always sent, 1 unless given; max_pages is
-- the walk's, not the server's) and the walk's page cap. Raises at the list call's caller.
function _M.first_opts(cfg, opts, op)
  if type(opts) ~= "table" then return opts, _M.DEFAULT_MAX_PAGES end
  local max_pages = opts.max_pages
  if max_pages ~= nil and (args.non_negative(op, opts, "max_pages", 2) < 1 or max_pages ~= math.floor(max_pages)) then
    args.fail(op, "field 'max_pages' must be a positive integer", 2)
  end
  local need_page = cfg.kind == "page" and opts[cfg.page_param] == nil
  if max_pages == nil and not need_page then return opts, _M.DEFAULT_MAX_PAGES end
  local o = copy(opts)
  o.max_pages = nil
  if need_page then o[cfg.page_param] = 1 end
  return o, max_pages or _M.DEFAULT_MAX_PAGES
end

-- The identity of a page's items, to see a page that repeats the one before it.
local function item_key(v)
  if type(v) == "table" then
    local id = v.id
    if id == nil then
      for k, x in pairs(v) do
        if type(k) == "string" and k:sub(-3) == "_id" and (type(x) == "string" or type(x) == "number") then
          id = k .. "=" .. x
          break
        end
      end
    end
    return id ~= nil and tostring(id) or nil
  end
  if type(v) == "string" or type(v) == "number" then return tostring(v) end
  return nil
end

local function same_items(a, b)
  if b == nil or #a ~= #b then return false end
  local ka1, kb1, kan, kbn = item_key(a[1]), item_key(b[1]), item_key(a[#a]), item_key(b[#b])
  return ka1 ~= nil and ka1 == kb1 and kan == kbn
end

-- Options of the request after `page`, or nil when the walk is over.
local function following(page)
  local cfg, raw, sent, walk = page._cfg, page.raw, page._opts, page._walk
  local n = #page.items
  if n == 0 then return nil end
  local flag = get(raw, cfg.has_more)
  if flag == false then return nil end
  local total = tonumber(get(raw, cfg.total))
  if total and page._seen >= total then return nil end
  local o = copy(sent)
  if cfg.kind == "page" then
    if flag ~= true and not total then
      local size = tonumber(sent[cfg.size_param])
      if size and n < size then return nil end
    end
    o[cfg.page_param] = (tonumber(sent[cfg.page_param]) or 1) + 1
  elseif cfg.kind == "token" then
    local tok = nonempty(get(raw, cfg.next_token))
    if tok == nil and cfg.next_token ~= "next_page_token" then tok = nonempty(get(raw, "next_page_token")) end
    if tok == nil or walk.sent[cfg.token_param .. "=" .. tostring(tok)] then return nil end
    o[cfg.token_param] = tok
  else
    local param, field = cfg.after_param, cfg.last_id
    if sent[cfg.before_param] ~= nil and sent[cfg.after_param] == nil then
      param, field = cfg.before_param, cfg.first_id
    end
    local cursor = nonempty(get(raw, field))
    if cursor == nil or cursor == "0" or cursor == 0 or walk.sent[param .. "=" .. tostring(cursor)] then return nil end
    o[param] = cursor
  end
  return o
end

local Page = {}
Page.__index = Page
_M.Page = Page

function Page.__tostring(p)
  return "coze page (" .. #p.items .. " items" .. (p.has_more and ", more" or "") .. ")"
end

-- The token or cursor a request sent, as "param=value" (nil for page numbers).
local function sent_key(cfg, sent)
  local params = cfg.kind == "token" and { cfg.token_param }
    or cfg.kind == "cursor" and { cfg.before_param, cfg.after_param } or {}
  for _, param in ipairs(params) do
    if sent[param] ~= nil then return param .. "=" .. tostring(sent[param]) end
  end
  return nil
end

-- A walk: what its requests sent (sent, a set of sent_key values), how many pages it holds, its
-- cap, and its tip (the last page). Each page keeps its chain of sent keys (not the pages, whose
-- items may be many), so a walk started again from an earlier page gets its own state.
local function walk_from(page)
  local sent, node = {}, page._chain
  while node do
    if node.key then sent[node.key] = true end
    node = node.up
  end
  return { sent = sent, pages = page._depth, max_pages = page._walk.max_pages, tip = page }
end

-- Wraps a result. run(opts) sends the operation again (result, meta | nil, err); sent = the options
-- of this request; seen = items on the pages before this one (nil for the first page); walk = the
-- walk it extends (for the first page nil or the walk's max_pages, default DEFAULT_MAX_PAGES);
-- chain = the sent keys of the pages before it.
function _M.new(cfg, run, sent, raw, meta, seen, walk, chain)
  local items = items_of(cfg, raw)
  if walk == nil or type(walk) == "number" then
    walk = { sent = {}, pages = 0, max_pages = walk or _M.DEFAULT_MAX_PAGES }
  end
  local key = sent_key(cfg, sent)
  if key then walk.sent[key] = true end
  walk.pages = walk.pages + 1
  if seen == nil then
    seen = 0
    if cfg.kind == "page" then
      local p, size = tonumber(sent[cfg.page_param]), tonumber(sent[cfg.size_param])
      if p and size and p > 1 then seen = (p - 1) * size end
    end
  end
  local page = setmetatable({
    items = items, raw = raw, meta = meta, total = tonumber(get(raw, cfg.total)),
    _cfg = cfg, _run = run, _opts = sent, _seen = seen + #items, _walk = walk, _depth = walk.pages,
    _chain = { key = key, up = chain },
  }, Page)
  walk.tip = page
  page._next = following(page)
  page.has_more = page._next ~= nil
  return page
end

function Page:next_page()
  local o = self._next
  if o == nil then return nil end
  local walk = self._walk
  if walk.tip ~= self then walk = walk_from(self) end
  if walk.pages >= walk.max_pages then
    return nil, errors.new("decode", { msg = "pagination stopped after max_pages (" .. walk.max_pages ..
      ") pages while the server still reported more; pass a larger max_pages to walk further" })
  end
  local raw, meta = self._run(o)
  if raw == nil then return nil, meta end
  local page = _M.new(self._cfg, self._run, o, raw, meta, self._seen, walk, self._chain)
  if same_items(page.items, self.items) then return nil end -- no progress: the walk ends here
  return page
end

-- local next_item = page:iter(); local item, err = next_item() ... (nil, nil at the end)
function Page:iter()
  local page, i, done = self, 0, false
  return function()
    if done then return nil end
    while true do
      i = i + 1
      local item = page.items[i]
      if item ~= nil then return item end
      local nxt, err = page:next_page()
      if nxt == nil then
        done = true
        return nil, err
      end
      page, i = nxt, 0
    end
  end
end

-- for item in page:each() do ... end   (a failed page raises its error object)
function Page:each()
  local it = self:iter()
  return function()
    local item, err = it()
    if item == nil and err ~= nil then error(err, 0) end
    return item
  end
end

return _M
