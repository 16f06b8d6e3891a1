#define _DEFAULT_SOURCE /* madvise */
#include "pages.h"

#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

const char *coze_pages_release(const char *from, const char *to)
{
#ifdef MADV_DONTNEED
  long page = sysconf(_SC_PAGESIZE);
  uintptr_t a, b;
  if (page <= 0 || to <= from)
    return to;
  a = ((uintptr_t)from + (uintptr_t)page - 1) & ~((uintptr_t)page - 1);
  b = (uintptr_t)to & ~((uintptr_t)page - 1);
  /* a failure (a range the kernel refuses) only means the pages stay resident */
  if (b > a)
    (void)madvise((void *)a, b - a, MADV_DONTNEED);
  return b > (uintptr_t)from ? from + (b - (uintptr_t)from) : from;
#else
  (void)from;
  return to;
#endif
}
