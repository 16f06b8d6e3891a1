# lua-coze: `make` builds the C core for Lua 5.4, `make test` runs everything, `make demo` streams a chat.
LUA        ?= lua5.4
LUAJIT     ?= luajit
CC         ?= cc
CFLAGS     ?= -O2 -g
WARNINGS    = -std=c99 -Wall -Wextra -pedantic -Wshadow -Wmissing-prototypes -Wstrict-prototypes
LUA_INC    ?= $(shell pkg-config --cflags lua5.4 2>/dev/null || echo -I/usr/include/lua5.4)
LUAJIT_INC ?= $(shell pkg-config --cflags luajit 2>/dev/null || echo -I/usr/include/luajit-2.1)
DEP_CFLAGS  = $(shell pkg-config --cflags libcurl openssl 2>/dev/null)
DEP_LIBS    = $(shell pkg-config --libs libcurl openssl 2>/dev/null || echo -lcurl -lssl -lcrypto)
SRC         = $(wildcard csrc/*.c)
HDR         = $(wildcard csrc/*.h)
MODCFLAGS   = $(WARNINGS) -fPIC -fvisibility=hidden $(DEP_CFLAGS)
BUSTED      = /usr/bin/busted
export LUA_PATH  := $(CURDIR)/lua/?.lua;$(CURDIR)/lua/?/init.lua;$(CURDIR)/spec/?.lua;/usr/share/lua/5.1/?.lua;/usr/share/lua/5.1/?/init.lua;;

# Debian packages the build, the tests and the emulator need; `make deps` installs the missing ones.
DEB_PACKAGES = gcc make pkg-config curl openssl ca-certificates valgrind \
  lua5.4 liblua5.4-dev lua-cjson lua-busted libcurl4-openssl-dev libssl-dev \
  libluajit2-5.1-dev luajit2 nginx-core libnginx-mod-http-lua clang libclang-rt-14-dev \
  luarocks python3 \
  love xvfb xauth fonts-wqy-microhei

.PHONY: all luajit core-nohttp deps test demo openresty-demo emulator-start emulator-stop sanitize valgrind fuzz fuzz-build clean

all: build/coze/core.so

build/coze/core.so: $(SRC) $(HDR) Makefile
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(MODCFLAGS) $(LUA_INC) -shared -o $@ $(SRC) $(DEP_LIBS)

luajit: build/luajit/coze/core.so

build/luajit/coze/core.so: $(SRC) $(HDR) Makefile
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(MODCFLAGS) $(LUAJIT_INC) -shared -o $@ $(SRC) $(DEP_LIBS)

# The core without the HTTP unit (no libcurl: for nginx users who never touch it): core.session
# and core.curl_version are absent, and so is the libcurl WebSocket connection (core.ws_open, lws.c);
# everything else is the same (the WebSocket codec, core.ws_codec, is there for the cosocket connection).
NOHTTP_SRC  = $(filter-out csrc/http.c csrc/lhttp.c csrc/wsconn.c csrc/lws.c,$(SRC))
core-nohttp: build/nohttp/coze/core.so

build/nohttp/coze/core.so: $(SRC) $(HDR) Makefile
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(WARNINGS) -fPIC -fvisibility=hidden -DCOZE_NO_HTTP \
	  $(shell pkg-config --cflags openssl 2>/dev/null) $(LUA_INC) -shared -o $@ $(NOHTTP_SRC) \
	  $(shell pkg-config --libs openssl 2>/dev/null || echo -lssl -lcrypto)

deps:
	@missing=""; for p in $(DEB_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing; \
	fi

test: deps all luajit core-nohttp
	@sh spec/run.sh

emulator-start:
	@spec/emulator/ctl start

emulator-stop:
	@spec/emulator/ctl stop

demo: deps all
	@sh examples/demo.sh

openresty-demo: deps luajit
	@sh examples/openresty/demo.sh

# The whole Lua 5.4 suite with the core built under AddressSanitizer + UndefinedBehaviorSanitizer
# (clang's shared runtime preloaded into lua5.4; leaks are valgrind's job).
CLANG      ?= clang
SANFLAGS    = -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer -g -O1
build/asan/coze/core.so: $(SRC) $(HDR) Makefile
	@mkdir -p $(@D)
	$(CLANG) $(SANFLAGS) -shared-libasan $(MODCFLAGS) $(LUA_INC) -shared -o $@ $(SRC) $(DEP_LIBS)

sanitize: deps all luajit build/asan/coze/core.so
	@SUITES=lua5.4 COZE_SANITIZE=1 CPATH54='$(CURDIR)/build/asan/?.so' \
	  SAN_PRELOAD="$$($(CLANG) -print-file-name=libclang_rt.asan-x86_64.so)" \
	  ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:halt_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 sh spec/run.sh

# The whole Lua 5.4 suite under valgrind memcheck: any definite or indirect leak or memory error fails.
valgrind: deps all luajit
	@SUITES=lua5.4 WRAPPER="valgrind --quiet --leak-check=full --show-leak-kinds=definite,indirect \
	  --errors-for-leak-kinds=definite,indirect --error-exitcode=99 --trace-children=no" sh spec/run.sh

# libFuzzer targets: fuzz/<name>.c links the pure-C units it names below.
FUZZ_CFLAGS = -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -Icsrc $(DEP_CFLAGS)
FUZZ_TARGETS = $(patsubst fuzz/%.c,build/fuzz/%,$(wildcard fuzz/fuzz_*.c))
FUZZ_SECONDS ?= 300
build/fuzz/fuzz_sse: fuzz/fuzz_sse.c csrc/sse.c csrc/buf.c csrc/sse.h csrc/buf.h
	@mkdir -p $(@D)
	$(CLANG) $(FUZZ_CFLAGS) -o $@ fuzz/fuzz_sse.c csrc/sse.c csrc/buf.c
build/fuzz/fuzz_pem: fuzz/fuzz_pem.c csrc/crypto.c csrc/crypto.h
	@mkdir -p $(@D)
	$(CLANG) $(FUZZ_CFLAGS) -o $@ fuzz/fuzz_pem.c csrc/crypto.c -lcrypto
build/fuzz/fuzz_utf8: fuzz/fuzz_utf8.c csrc/utf8.c csrc/utf8.h
	@mkdir -p $(@D)
	$(CLANG) $(FUZZ_CFLAGS) -o $@ fuzz/fuzz_utf8.c csrc/utf8.c
build/fuzz/fuzz_chunked: fuzz/fuzz_chunked.c csrc/chunked.c csrc/chunked.h csrc/sink.h
	@mkdir -p $(@D)
	$(CLANG) $(FUZZ_CFLAGS) -o $@ fuzz/fuzz_chunked.c csrc/chunked.c
build/fuzz/fuzz_headers: fuzz/fuzz_headers.c csrc/headers.c csrc/buf.c csrc/headers.h csrc/buf.h
	@mkdir -p $(@D)
	$(CLANG) $(FUZZ_CFLAGS) -o $@ fuzz/fuzz_headers.c csrc/headers.c csrc/buf.c
build/fuzz/fuzz_json: fuzz/fuzz_json.c csrc/json.c csrc/ljson.c csrc/pages.c $(HDR)
	@mkdir -p $(@D)
	$(CLANG) $(FUZZ_CFLAGS) $(LUA_INC) -DGIVEBACK_STEP=64 -o $@ fuzz/fuzz_json.c csrc/json.c csrc/ljson.c csrc/pages.c \
	  -llua5.4 -lm -ldl
build/fuzz/fuzz_ws: fuzz/fuzz_ws.c csrc/ws.c csrc/wscodec.c csrc/wshs.c csrc/jscan.c csrc/crypto.c csrc/buf.c csrc/utf8.c $(HDR)
	@mkdir -p $(@D)
	$(CLANG) $(FUZZ_CFLAGS) -o $@ fuzz/fuzz_ws.c csrc/ws.c csrc/wscodec.c csrc/wshs.c csrc/jscan.c csrc/crypto.c csrc/buf.c csrc/utf8.c -lcrypto

fuzz-build: $(FUZZ_TARGETS)

# A long run on demand (make test runs each target for 5 s).
fuzz: deps fuzz-build
	@SUITES=fuzz FUZZ_SECONDS=$(FUZZ_SECONDS) sh spec/run.sh

clean:
	rm -rf build
