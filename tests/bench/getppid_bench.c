/* Syscall round-trip micro-benchmark: N getppid() calls through syscall() (never cached by
 * libc, never served by the vDSO). Prints "ns_per_call=<float>" for bench.py, plus a human
 * line. Usage: getppid_bench [N], N defaults to 100000. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

int main(int argc, char** argv) {
  long n = argc > 1 ? strtol(argv[1], NULL, 10) : 100000;
  if (n <= 0) {
    fprintf(stderr, "getppid_bench: N must be positive\n");
    return 2;
  }
  for (int i = 0; i < 1000; ++i) syscall(SYS_getppid);  /* warm up */
  double start = now_ns();
  for (long i = 0; i < n; ++i) syscall(SYS_getppid);
  double per = (now_ns() - start) / (double)n;
  printf("getppid: %ld calls, %.1f ns/call\n", n, per);
  printf("ns_per_call=%.3f\n", per);
  return 0;
}
