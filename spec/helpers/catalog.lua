-- Reading the API catalog (catalog/*.tsv) for the specs that check the client, the reference and the
-- LuaLS file against it: its rows, which rows are resource methods, and their method names.
local _M = {}

function _M.read_tsv(path)
  local f = assert(io.open(path, "rb"), "cannot open the API catalog at " .. path)
  local text = f:read("*a")
  f:close()
  local rows, head = {}, nil
  for line in text:gmatch("([^\n]*)\n?") do
    if line ~= "" then
      local cells = {}
      for cell in (line .. "\t"):gmatch("([^\t]*)\t") do cells[#cells + 1] = cell end
      if not head then
        head = cells
      else
        local row = {}
        for i, name in ipairs(head) do row[name] = cells[i] or "" end
        rows[#rows + 1] = row
      end
    end
  end
  return rows
end

function _M.in_scope(row)
  return row.group ~= "auth" and row.response ~= "ws" and row.response ~= "redirect"
    and not row.operation:match("^websdk%.")
end

-- Operations the SDK names as the official SDKs do (the endpoint table's `catalog` field keeps the
-- catalog's name).
local RENAMED = {}
for _, ep in ipairs(require "coze.endpoints") do
  if ep.catalog then RENAMED[ep.catalog] = ep[1] end
end

-- The SDK method names of a row: "a|b" = two; a json|sse row with one name gets a ".stream" twin.
function _M.names_of(row)
  local names = {}
  for n in row.operation:gmatch("[^|]+") do names[#names + 1] = RENAMED[n] or n end
  if row.response == "json|sse" and #names == 1 then
    names[2] = names[1]:gsub("%.[%w_]+$", "") .. ".stream"
  end
  return names
end

return _M
