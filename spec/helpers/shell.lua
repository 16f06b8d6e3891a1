-- Running commands from specs the way a user's shell would: quoting and exit codes.
local _M = {}

-- s as one single-quoted shell word
function _M.quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

-- Runs cmd with sh, stderr merged into stdout: output, exit code. Without LD_PRELOAD: a sanitizer
-- runtime preloaded into the suite (make sanitize) is for the process under test, not for the
-- compilers and interpreters a spec starts.
function _M.run(cmd)
  local p = assert(io.popen("{ unset LD_PRELOAD; " .. cmd .. "\n} 2>&1; echo \"exit $?\""))
  local out = p:read("*a")
  p:close()
  local body, code = out:match("^(.-)exit (%d+)\n$")
  return body, tonumber(code)
end

return _M
