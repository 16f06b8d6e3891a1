/* What the coze command needs from the OS and plain Lua cannot give: a Ctrl-C flag the command polls
 * between reads (the handler only sets it, so no Lua runs in signal context and libcurl is never
 * interrupted mid-call), whether a descriptor is a terminal (progress bars), and writing a file
 * that is private from its first byte (token files). */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "compat.h"
#include "lcore.h"

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig)
{
  (void)sig;
  interrupted = 1;
  /* a second Ctrl-C kills the process the usual way, should the command be stuck */
  signal(SIGINT, SIG_DFL);
}

/* sigint_catch(): from now on Ctrl-C sets the flag instead of killing the process. No SA_RESTART:
 * a wait in poll() returns early so the flag is seen within one slice. */
static int l_cli_sigint_catch(lua_State *L)
{
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_sigint;
  sigemptyset(&sa.sa_mask);
  interrupted = 0;
  lua_pushboolean(L, sigaction(SIGINT, &sa, NULL) == 0);
  return 1;
}

/* sigint_taken() -> true once after each Ctrl-C since sigint_catch */
static int l_cli_sigint_taken(lua_State *L)
{
  int was = interrupted != 0;
  interrupted = 0;
  lua_pushboolean(L, was);
  return 1;
}

static int l_cli_isatty(lua_State *L)
{
  lua_pushboolean(L, isatty((int)luaL_checkinteger(L, 1)) == 1);
  return 1;
}

/* write_private(path, data) -> true | nil, msg: the file is created 0600 (and an existing one made
 * 0600) before any byte is written. */
static int l_cli_write_private(lua_State *L)
{
  size_t len, off = 0;
  const char *path = luaL_checkstring(L, 1);
  const char *data = luaL_checklstring(L, 2, &len);
  int err = 0;
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, S_IRUSR | S_IWUSR);
  if (fd < 0 || fchmod(fd, S_IRUSR | S_IWUSR) != 0)
    err = errno;
  while (!err && off < len) {
    ssize_t n = write(fd, data + off, len - off);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      err = errno;
    else
      off += (size_t)n;
  }
  if (fd >= 0 && close(fd) != 0 && !err)
    err = errno;
  if (err) {
    lua_pushnil(L);
    lua_pushfstring(L, "%s: %s", path, strerror(err));
    return 2;
  }
  lua_pushboolean(L, 1);
  return 1;
}

void coze_l_cli_open(lua_State *L)
{
  static const luaL_Reg fns[] = {
    {"sigint_catch", l_cli_sigint_catch},
    {"sigint_taken", l_cli_sigint_taken},
    {"isatty", l_cli_isatty},
    {"write_private", l_cli_write_private},
    {NULL, NULL}
  };
  luaL_setfuncs(L, fns, 0);
}
