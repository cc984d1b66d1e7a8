/* Process and thread load for the e2e and stress drivers (a static binary, so it runs in any
 * root). Every mode checks its own results and exits non-zero on the first mismatch.
 *
 *   forks N          N sequential fork + waitpid, each child exiting with i & 0xff
 *   procs N P        N short processes, at most P alive at once, reaped with wait()
 *   threads N        N concurrent threads, each doing a few syscalls and adding to a counter
 *   rounds K         K rounds of "procs 500 32" + "threads 200"; after each round prints
 *                    "round k" and reads one byte from stdin (the driver measures memory)
 * Prints "ok <mode>" when done.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static void die(const char* what, long detail) {
  fprintf(stderr, "proc_stress: %s (%ld): %s\n", what, detail, strerror(errno));
  exit(1);
}

static void forks(long n) {
  for (long i = 0; i < n; ++i) {
    pid_t pid = fork();
    if (pid == 0) _exit((int)(i & 0xff));
    if (pid < 0) die("fork", i);
    int status;
    if (waitpid(pid, &status, 0) != pid) die("waitpid", i);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != (int)(i & 0xff)) die("status", status);
  }
}

static void procs(long n, long parallel) {
  long started = 0, reaped = 0, alive = 0;
  long sum_expected = 0, sum_got = 0;
  while (reaped < n) {
    while (started < n && alive < parallel) {
      int code = (int)(started % 200);
      pid_t pid = fork();
      if (pid == 0) {
        /* A little work in the child: its own syscalls and memory. */
        volatile char buf[8192];
        for (size_t i = 0; i < sizeof(buf); i += 512) buf[i] = (char)i;
        syscall(SYS_getpid);
        _exit(code);
      }
      if (pid < 0) die("fork", started);
      sum_expected += code;
      ++started;
      ++alive;
    }
    int status;
    pid_t pid = wait(&status);
    if (pid < 0) die("wait", reaped);
    if (!WIFEXITED(status)) die("child did not exit normally", status);
    sum_got += WEXITSTATUS(status);
    ++reaped;
    --alive;
  }
  if (sum_got != sum_expected) die("exit status sum", sum_got);
  errno = 0;
  if (wait(NULL) != -1 || errno != ECHILD) die("children left", 0);
}

static atomic_long g_counter;

static void* worker(void* arg) {
  long id = (long)arg;
  for (int i = 0; i < 20; ++i) {
    syscall(SYS_gettid);
    sched_yield();
  }
  atomic_fetch_add(&g_counter, id + 1);
  return (void*)(id * 2);
}

static void threads(long n) {
  pthread_t* ts = calloc((size_t)n, sizeof(pthread_t));
  if (ts == NULL) die("calloc", n);
  atomic_store(&g_counter, 0);
  for (long i = 0; i < n; ++i) {
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 64 * 1024);
    int err = pthread_create(&ts[i], &attr, worker, (void*)i);
    if (err != 0) {
      errno = err;
      die("pthread_create", i);
    }
    pthread_attr_destroy(&attr);
  }
  for (long i = 0; i < n; ++i) {
    void* ret;
    if (pthread_join(ts[i], &ret) != 0 || (long)ret != i * 2) die("pthread_join", i);
  }
  if (atomic_load(&g_counter) != n * (n + 1) / 2) die("counter", atomic_load(&g_counter));
  free(ts);
}

int main(int argc, char** argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: proc_stress forks N | procs N P | threads N | rounds K\n");
    return 2;
  }
  const char* mode = argv[1];
  long n = strtol(argv[2], NULL, 10);
  if (strcmp(mode, "forks") == 0) {
    forks(n);
  } else if (strcmp(mode, "procs") == 0 && argc > 3) {
    procs(n, strtol(argv[3], NULL, 10));
  } else if (strcmp(mode, "threads") == 0) {
    threads(n);
  } else if (strcmp(mode, "rounds") == 0) {
    for (long k = 1; k <= n; ++k) {
      procs(500, 32);
      threads(200);
      printf("round %ld\n", k);
      fflush(stdout);
      char c;
      if (k < n && read(0, &c, 1) != 1) die("read stdin", k);
    }
  } else {
    return 2;
  }
  printf("ok %s\n", mode);
  return 0;
}
