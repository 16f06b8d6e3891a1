-- The one scrubber for server text: every message built from what a server sent (an envelope's
-- msg, a non-JSON error body, an OAuth error, a stream's error event) passes through it before it
-- reaches an error object, so a server or gateway that echoes the request's Authorization, a
-- client secret, a JWT or a PKCE verifier never puts it into err.msg or tostring(err).
local defaults = require "coze.defaults"

local find, gsub, sub = string.find, string.gsub, string.sub

local _M = {}

local REDACTED = "[redacted]"

-- Credential shapes scrubbed even when the value is not known (a token of another client, a
-- signed JWT the server made up).
local PATTERNS = {
  "eyJ[%w_%-]+%.[%w_%-]+%.?[%w_%-]*", -- a JWT (header {"... base64url)
  "[Bb]earer%s+[^%s\"',;]+",
  "czs_[%w_%-]+", "czu_[%w_%-]+", "pat_[%w_%-]+", "sat_[%w_%-]+",
}

local function replace_plain(s, needle, by)
  local out, i = {}, 1
  while true do
    local a, b = find(s, needle, i, true)
    if not a then break end
    out[#out + 1] = sub(s, i, a - 1)
    out[#out + 1] = by
    i = b + 1
  end
  if i == 1 then return s end
  out[#out + 1] = sub(s, i)
  return table.concat(out)
end

-- scrub(s, secrets) -> s without any of the secrets (exact values of at least 4 bytes, in any
-- table: list or map) and without credential-shaped words. Non-strings come back as they are.
function _M.scrub(s, secrets)
  if type(s) ~= "string" then return s end
  if secrets then
    for _, v in pairs(secrets) do
      if type(v) == "string" and #v >= 4 then s = replace_plain(s, v, REDACTED) end
    end
  end
  for _, p in ipairs(PATTERNS) do s = gsub(s, p, REDACTED) end
  return s
end
local scrub = _M.scrub

-- A function that scrubs with these secrets: what a stream gets as opts.scrub.
function _M.with(secrets)
  return function(s) return scrub(s, secrets) end
end

-- The start of a server's text for an error message: scrubbed first, then cut (so a secret that
-- straddles the cut leaves no prefix behind), control characters blanked.
function _M.snippet(body, secrets)
  return (gsub(sub(scrub(body, secrets), 1, defaults.SNIPPET_BYTES), "%c", " "))
end

return _M
