/* Clock, sleep and host facts the Lua layer cannot get portably from plain Lua. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <sys/utsname.h>
#include <time.h>

#include "compat.h"
#include "clock.h"
#include "lcore.h"

/* Fractional: a frame budget of 1-2 ms needs microseconds (the clock every unit uses, clock.c). */
static int l_sys_monotonic_ms(lua_State *L)
{
  lua_pushnumber(L, (lua_Number)coze_now_ms_frac());
  return 1;
}

static int l_sys_time(lua_State *L)
{
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  lua_pushnumber(L, (lua_Number)ts.tv_sec + (lua_Number)ts.tv_nsec / 1e9);
  return 1;
}

/* Longer sleeps are cut to this (about 31 years): the seconds must fit a time_t (a 32-bit one
   too) without an overflowing conversion, which would make sleep_ms(math.huge) return at once. */
#define SLEEP_MAX_MS (2147483647.0 * 1000)

static int l_sys_sleep_ms(lua_State *L)
{
  lua_Number ms = luaL_checknumber(L, 1);
  struct timespec ts;
  luaL_argcheck(L, ms == ms, 1, "ms must not be NaN");
  if (ms <= 0)
    return 0;
  if (ms > SLEEP_MAX_MS)
    ms = SLEEP_MAX_MS;
  ts.tv_sec = (time_t)(ms / 1000);
  ts.tv_nsec = (long)((ms - (lua_Number)ts.tv_sec * 1000) * 1e6);
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
    ;
  return 0;
}

static int l_sys_uname(lua_State *L)
{
  struct utsname u;
  if (uname(&u) != 0) {
    lua_pushliteral(L, "unknown");
    lua_pushliteral(L, "unknown");
    lua_pushliteral(L, "unknown");
    return 3;
  }
  lua_pushstring(L, u.sysname);
  lua_pushstring(L, u.release);
  lua_pushstring(L, u.machine);
  return 3;
}

void coze_l_sys_open(lua_State *L)
{
  static const luaL_Reg fns[] = {
    {"monotonic_ms", l_sys_monotonic_ms},
    {"time", l_sys_time},
    {"sleep_ms", l_sys_sleep_ms},
    {"uname", l_sys_uname},
    {NULL, NULL}
  };
  luaL_setfuncs(L, fns, 0);
}
