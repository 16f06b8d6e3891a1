-- The one place that picks a transport, so the client and the auth flows cannot disagree: the
-- one given, else cosockets inside nginx (coze.transport.ngx), else libcurl.
local _M = {}

-- Inside nginx's lua module: cosockets, whatever the phase now (a client made in init_by_lua is
-- used later in content handlers; a call in a phase without cosockets raises, never blocks).
function _M.in_nginx()
  local ngx = rawget(_G, "ngx")
  return type(ngx) == "table" and type(ngx.get_phase) == "function" and type(ngx.socket) == "table"
end

-- coze.transport.select{ transport = obj?, proxy, no_proxy, ca_file, ca_path, tls_verify, max_buffer } -> transport
-- A given transport object is used as it is; otherwise ngx or libcurl with these options.
function _M.select(opts)
  opts = opts or {}
  if opts.transport ~= nil then return opts.transport end
  if _M.in_nginx() then
    return require("coze.transport.ngx").new {
      proxy = opts.proxy, no_proxy = opts.no_proxy, ca_file = opts.ca_file, ca_path = opts.ca_path,
      tls_verify = opts.tls_verify,
    }
  end
  return require("coze.transport.curl").new {
    proxy = opts.proxy, no_proxy = opts.no_proxy, ca_file = opts.ca_file, ca_path = opts.ca_path,
    tls_verify = opts.tls_verify, max_buffer = opts.max_buffer,
  }
end

return _M
