/* Process creation benchmark: N iterations of fork + execve(/bin/true) + waitpid. Prints
 * "ns_per_call=<float>" (per iteration) for process_bench.py, plus a human line.
 * Usage: fork_exec_bench [N], N defaults to 200. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

int main(int argc, char** argv) {
  long n = argc > 1 ? strtol(argv[1], NULL, 10) : 200;
  if (n <= 0) {
    fprintf(stderr, "fork_exec_bench: N must be positive\n");
    return 2;
  }
  char* const child_argv[] = {"/bin/true", NULL};
  char* const child_env[] = {NULL};
  double start = now_ns();
  for (long i = 0; i < n; ++i) {
    pid_t pid = fork();
    if (pid == 0) {
      execve("/bin/true", child_argv, child_env);
      _exit(127);
    }
    int status;
    if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
        WEXITSTATUS(status) != 0) {
      fprintf(stderr, "fork_exec_bench: iteration %ld failed\n", i);
      return 1;
    }
  }
  double per = (now_ns() - start) / (double)n;
  printf("fork+exec+wait: %ld iterations, %.1f us/iteration\n", n, per / 1e3);
  printf("ns_per_call=%.3f\n", per);
  return 0;
}
