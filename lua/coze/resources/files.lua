-- Helpers on client.files written on top of the generated operations.
--   client.files:upload{ file = "/path/to/report.pdf" }            streamed from disk
--   client.files:upload{ content = bytes, file_name = "notes.txt" } a string in memory
--   client.files:upload{ file = { path = "/p", filename = "a.pdf", type = "application/pdf" } }
-- with on_progress = function(sent, total) ... end for long uploads (see coze.client).
-- The multipart field is `file`; a missing or unreadable file gives nil, err (kind "io", err.path).
local multipart = require "coze.multipart"

local _M = {}

function _M.extend(client)
  multipart.wrap_all(client, "files")
end

return _M
