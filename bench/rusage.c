/* Runs a command and records its resource use (bench/run.sh compiles this into a temp dir).
 *
 *     rusage OUTFILE cmd args...
 *
 * Writes "user_s sys_s wall_s maxrss_kb" to OUTFILE and exits with the command's status; stdin,
 * stdout and stderr are inherited. Like /usr/bin/time -f '%U %S %e %M', but CPU times keep
 * microseconds (time(1) prints 10 ms steps). It is a small C program on purpose: Linux carries the
 * pre-exec peak RSS of the forked child into ru_maxrss, so a wrapper in Python or Node would add
 * its own ~10 MB to every RSS reading. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
  struct timespec t0, t1;
  struct rusage ru;
  int status;
  pid_t pid;
  FILE *f;
  if (argc < 3) {
    fprintf(stderr, "usage: rusage OUTFILE cmd args...\n");
    return 2;
  }
  clock_gettime(CLOCK_MONOTONIC, &t0);
  pid = fork();
  if (pid < 0) {
    perror("fork");
    return 2;
  }
  if (pid == 0) {
    execvp(argv[2], argv + 2);
    perror(argv[2]);
    _exit(127);
  }
  if (wait4(pid, &status, 0, &ru) < 0) {
    perror("wait4");
    return 2;
  }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  f = fopen(argv[1], "w");
  if (f == NULL) {
    perror(argv[1]);
    return 2;
  }
  fprintf(f, "%.6f %.6f %.6f %ld\n", ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6,
          ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6,
          (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9, ru.ru_maxrss);
  fclose(f);
  if (WIFEXITED(status))
    return WEXITSTATUS(status);
  return 128 + WTERMSIG(status);
}
