-- Uploads a file (streamed from disk, never read into memory) and prints the File object.
--   COZE_API_TOKEN [, COZE_API_BASE]; arg[1] = the path.
dofile((arg[0]:match("^(.*)/") or ".") .. "/_paths.lua") -- this checkout's SDK (see _paths.lua)
local coze = require "coze"

local token = assert(os.getenv("COZE_API_TOKEN"), "set COZE_API_TOKEN")
local path = assert(arg[1], "usage: lua upload.lua /path/to/file")

local client = coze.new { token = token, base_url = os.getenv("COZE_API_BASE") or coze.CN_BASE_URL }

local file, err = client.files:upload {
  file = path, -- or content = bytes, file_name = "notes.txt"
  -- called while the body goes out when the transport reports upload progress
  on_progress = function(sent, total)
    io.stderr:write(string.format("\r%d / %s bytes", sent, total and tostring(total) or "?"))
  end,
}
io.stderr:write("\n")
if not file then
  io.stderr:write(tostring(err), "\n") -- a missing file: err.kind == "io", err.path
  os.exit(1)
end
print(string.format("uploaded %s: id %s, %d bytes", tostring(file.file_name), tostring(file.id), file.bytes or -1))
client:close()
