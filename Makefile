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
  libluajit2-5.1-dev luajit2 nginx-core libnginx-mod-http-lua

.PHONY: all luajit deps test test-lua54 test-luajit demo emulator-start emulator-stop valgrind clean

all: build/coze/core.so

build/coze/core.so: $(SRC) $(HDR) Makefile
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(MODCFLAGS) $(LUA_INC) -shared -o $@ $(SRC) $(DEP_LIBS)

luajit: build/luajit/coze/core.so

build/luajit/coze/core.so: $(SRC) $(HDR) Makefile
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(MODCFLAGS) $(LUAJIT_INC) -shared -o $@ $(SRC) $(DEP_LIBS)

deps:
	@missing=""; for p in $(DEB_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing; \
	fi

test: deps all luajit
	@sh spec/run.sh

emulator-start:
	@spec/emulator/ctl start

emulator-stop:
	@spec/emulator/ctl stop

demo: deps all
	@sh examples/demo.sh

clean:
	rm -rf build
