package = "coze"
version = "scm-1"
source = {
  url = "git+https://github.com/lua-coze/lua-coze.git",
}
description = {
  summary = "The Coze open API for Lua: chat, workflows, files, knowledge, audio, every auth flow",
  detailed = "A C core (libcurl transport, SSE parser, JSON decoder, OpenSSL signing) under an idiomatic Lua layer; Lua 5.1/LuaJIT to 5.4.",
  license = "MIT",
}
dependencies = { "lua >= 5.1", "lua-cjson" }
external_dependencies = {
  CURL = { header = "curl/curl.h", library = "curl" },
  OPENSSL = { header = "openssl/evp.h", library = "crypto" },
}
build = {
  type = "builtin",
  modules = {
    ["coze.core"] = {
      sources = {
        "csrc/buf.c",
        "csrc/clock.c",
        "csrc/crypto.c",
        "csrc/headers.c",
        "csrc/http.c",
        "csrc/json.c",
        "csrc/lcore.c",
        "csrc/lcrypto.c",
        "csrc/lheaders.c",
        "csrc/lhttp.c",
        "csrc/ljson.c",
        "csrc/lsse.c",
        "csrc/lsse_iter.c",
        "csrc/lsys.c",
        "csrc/sse.c",
        "csrc/utf8.c",
      },
      libraries = { "curl", "crypto", "pthread" },
      incdirs = { "csrc", "$(CURL_INCDIR)", "$(OPENSSL_INCDIR)" },
      libdirs = { "$(CURL_LIBDIR)", "$(OPENSSL_LIBDIR)" },
    },
    ["coze.args"] = "lua/coze/args.lua",
    ["coze.auth.app"] = "lua/coze/auth/app.lua",
    ["coze.auth.base"] = "lua/coze/auth/base.lua",
    ["coze.auth.cache"] = "lua/coze/auth/cache.lua",
    ["coze.auth.code"] = "lua/coze/auth/code.lua",
    ["coze.auth.device"] = "lua/coze/auth/device.lua",
    ["coze.auth.http"] = "lua/coze/auth/http.lua",
    ["coze.auth"] = "lua/coze/auth/init.lua",
    ["coze.auth.jwt"] = "lua/coze/auth/jwt.lua",
    ["coze.auth.static"] = "lua/coze/auth/static.lua",
    ["coze.client"] = "lua/coze/client.lua",
    ["coze.endpoints"] = "lua/coze/endpoints.lua",
    ["coze.errors"] = "lua/coze/errors.lua",
    ["coze.header"] = "lua/coze/header.lua",
    ["coze"] = "lua/coze/init.lua",
    ["coze.json"] = "lua/coze/json.lua",
    ["coze.message"] = "lua/coze/message.lua",
    ["coze.multipart"] = "lua/coze/multipart.lua",
    ["coze.pager"] = "lua/coze/pager.lua",
    ["coze.resources.audio"] = "lua/coze/resources/audio.lua",
    ["coze.resources.chat"] = "lua/coze/resources/chat.lua",
    ["coze.resources.files"] = "lua/coze/resources/files.lua",
    ["coze.resources"] = "lua/coze/resources/init.lua",
    ["coze.resources.workflows"] = "lua/coze/resources/workflows.lua",
    ["coze.retry"] = "lua/coze/retry.lua",
    ["coze.stream"] = "lua/coze/stream.lua",
    ["coze.transport.curl"] = "lua/coze/transport/curl.lua",
    ["coze.url"] = "lua/coze/url.lua",
    ["coze.useragent"] = "lua/coze/useragent.lua",
    ["coze.version"] = "lua/coze/version.lua",
    ["coze.wait"] = "lua/coze/wait.lua",
  },
}
