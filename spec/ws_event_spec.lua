-- WebSocket events from message text: the envelope (event_type, id, detail.logid) is scanned without
-- decoding the JSON, data is decoded on first access, audio comes straight out of the text in C.
local websocket = require "coze.websocket"
local core = require "coze.core"

local new_event = websocket.new_event

describe("websocket events", function()
  it("reads event_type, id and logid without decoding data", function()
    local ev = assert(new_event('{"id":"e1","event_type":"chat.created","detail":{"logid":"L1"},"data":{"a":1}}'))
    assert.equal("chat.created", ev.event_type)
    assert.equal("e1", ev.id)
    assert.equal("L1", ev.logid)
    assert.is_nil(rawget(ev, "data"))
    assert.same({ a = 1 }, ev.data)
    assert.equal("L1", ev.detail.logid)
  end)

  it("finds the keys whatever their order, nesting or blanks", function()
    local ev = assert(new_event(' { "data" : {"event_type":"inner","id":[1,"]"]} , "detail":{"x":{"logid":"no"},"logid":"yes"},\n' ..
      '"event_type" : "outer" , "id":"i" } '))
    assert.equal("outer", ev.event_type)
    assert.equal("i", ev.id)
    assert.equal("yes", ev.logid)
    assert.equal("inner", ev.data.event_type)
  end)

  it("falls back to the decoder for escaped or non-string envelope values", function()
    local ev = assert(new_event('{"id":7,"event_type":"a\\u002eb","detail":{"logid":"x\\"y"}}'))
    assert.equal("a.b", ev.event_type)
    assert.equal(7, ev.id)
    assert.equal('x"y', ev.logid)
  end)

  it("decodes audio in C, and through the decoder when the base64 is escaped", function()
    local b64 = core.base64_encode("\0\1\255 audio?>")
    local ev = assert(new_event('{"event_type":"conversation.audio.delta","data":{"content":"' .. b64 .. '"}}'))
    assert.equal("\0\1\255 audio?>", ev.audio)
    assert.is_nil(rawget(ev, "data")) -- the audio did not need the decoder
    local escaped = b64:gsub("/", "\\/")
    ev = assert(new_event('{"event_type":"speech.audio.update","data":{"delta":"' .. escaped .. '"}}'))
    assert.equal("\0\1\255 audio?>", ev.audio)
    ev = assert(new_event('{"event_type":"simult_interpretation.audio.delta","data":{"delta":"aGk="}}'))
    assert.equal("hi", ev.audio)
    assert.is_nil(assert(new_event('{"event_type":"conversation.message.delta","data":{"content":"aGk="}}')).audio)
  end)

  it("refuses text that is not a JSON object", function()
    local ev, err = new_event("not json")
    assert.is_nil(ev)
    assert.matches("malformed event JSON", err)
    ev = assert(new_event('{"event_type":"x","data":{"a":tru}}'))
    assert.is_nil(ev.data)
    assert.matches("malformed", ev.decode_error)
  end)
end)
