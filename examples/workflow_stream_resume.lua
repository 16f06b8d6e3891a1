-- Runs a workflow as a stream; when a question node interrupts it, asks on stdin and resumes,
-- until the workflow is done.
--   COZE_API_TOKEN, COZE_WORKFLOW_ID [, COZE_API_BASE]; arg[1] = a JSON object of parameters.
--   Against the local emulator: COZE_API_TOKEN=pat_x COZE_API_BASE=http://127.0.0.1:18321 COZE_WORKFLOW_ID=wf_interrupt
dofile((arg[0]:match("^(.*)/") or ".") .. "/_paths.lua") -- this checkout's SDK (see _paths.lua)
local coze = require "coze"
local json = require "coze.json"

local token = assert(os.getenv("COZE_API_TOKEN"), "set COZE_API_TOKEN")
local workflow_id = assert(os.getenv("COZE_WORKFLOW_ID"), "set COZE_WORKFLOW_ID")
local parameters = arg[1] and assert(json.decode(arg[1]), "arg[1] must be a JSON object") or {}

local client = coze.new { token = token, base_url = os.getenv("COZE_API_BASE") or coze.CN_BASE_URL }

local stream, err = client.workflows.runs:stream { workflow_id = workflow_id, parameters = parameters }
while stream do
  for ev in stream:events() do -- an Error event raises the error object here
    if ev.event == "Message" then
      io.write(ev.data.content or "")
      if ev.data.node_is_finish then io.write("\n") end
    elseif ev.event == "Interrupt" then
      io.write("\n[", tostring(ev.data.node_title), "] your answer: ")
    elseif ev.event == "Done" then
      io.write("[done", stream.debug_url and (", debug: " .. stream.debug_url) or "", "]\n")
    end
    io.flush()
  end
  if not stream.interrupt then break end
  local answer = io.read("*l") or ""
  stream, err = stream:resume { resume_data = answer } -- workflow_id, event_id, interrupt_type from the Interrupt
end
if err then
  io.stderr:write(tostring(err), "\n")
  os.exit(1)
end
client:close()
