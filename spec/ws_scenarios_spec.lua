-- spec/helpers/ws_scenarios.lua on libcurl's connection; spec/openresty_app_spec.lua runs the same
-- table on the cosocket connection inside nginx and expects the same outcomes.
local coze = require "coze"
local emu = require "helpers.emu"
local scenarios = require "helpers.ws_scenarios"
local last_session = require("helpers.ws").last_session

describe("websocket scenarios on libcurl's connection", function()
  for _, name in ipairs(scenarios.names) do
    local case = scenarios.cases[name]
    it(name, function()
      local c = coze.new(scenarios.client_opts(name, emu.url))
      assert.same(case.expect, case.run(c))
      c:close()
      for k, v in pairs(case.seen or {}) do
        local seen = last_session()
        local got = seen[k]
        if k == "client_close" then got = seen.client_close and seen.client_close.code end
        assert.same(v, got, k)
      end
    end)
  end
end)
