-- The one place that picks a transport, so the client and the auth flows cannot disagree and a
-- new transport (cosockets inside nginx) plugs in here only.
local _M = {}

-- coze.transport.select{ transport = obj?, proxy, no_proxy, ca_file, ca_path, tls_verify, max_buffer } -> transport
-- A given transport object is used as it is; otherwise the libcurl one with these options.
function _M.select(opts)
  opts = opts or {}
  if opts.transport ~= nil then return opts.transport end
  return require("coze.transport.curl").new {
    proxy = opts.proxy, no_proxy = opts.no_proxy, ca_file = opts.ca_file, ca_path = opts.ca_path,
    tls_verify = opts.tls_verify, max_buffer = opts.max_buffer,
  }
end

return _M
