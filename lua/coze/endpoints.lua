-- Every HTTP operation of the Coze API, one line each; coze.resources builds the client's
-- resource objects from it. Fields:
--   [1] operation ("a.b.c" becomes client.a.b:c{...}), [2] HTTP method, [3] path ({name} = path param)
--   query     names taken from the options into the query string (everything else goes to the body;
--             for methods without a body, to the query string)
--   required  names that must be present (path params always are)
--   set       body fields the operation forces (e.g. stream = true)
--   stream    SSE framing profile ("chat", "workflow", "completions") when the answer is a stream
--   response  "json" (default, Coze envelope) or "binary"
--   result    envelope key returned ("data" by default; "body" = the whole decoded body)
--   headers   fixed request headers
return {
  { "chat.create", "POST", "/v3/chat", query = { "conversation_id" }, required = { "bot_id", "user_id" },
    set = { stream = false } },
  { "chat.stream", "POST", "/v3/chat", query = { "conversation_id" }, required = { "bot_id", "user_id" },
    set = { stream = true }, stream = "chat" },
  { "chat.retrieve", "GET", "/v3/chat/retrieve", query = { "conversation_id", "chat_id" },
    required = { "conversation_id", "chat_id" } },
  { "chat.cancel", "POST", "/v3/chat/cancel", required = { "conversation_id", "chat_id" } },
  { "chat.submit_tool_outputs", "POST", "/v3/chat/submit_tool_outputs", query = { "conversation_id", "chat_id" },
    required = { "conversation_id", "chat_id", "tool_outputs" }, set = { stream = false } },
  { "chat.submit_tool_outputs_stream", "POST", "/v3/chat/submit_tool_outputs",
    query = { "conversation_id", "chat_id" }, required = { "conversation_id", "chat_id", "tool_outputs" },
    set = { stream = true }, stream = "chat" },
  { "chat.messages.list", "GET", "/v3/chat/message/list", query = { "conversation_id", "chat_id" },
    required = { "conversation_id", "chat_id" } },
  { "conversations.create", "POST", "/v1/conversation/create" },
  { "conversations.retrieve", "GET", "/v1/conversation/retrieve", query = { "conversation_id" },
    required = { "conversation_id" } },
}
