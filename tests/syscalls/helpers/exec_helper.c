/* The program the exec/thread/prctl/pgid_sid compatibility tests execve. It reports the state
 * it inherited across execve on stdout, one "key=value" line each, so that the tests compare
 * exact text. Usage: exec_helper MODE [ARGS...]
 *
 *   args           argc, then every argv[i] and environment entry
 *   argc           argc and the total length of the arguments (big argument lists)
 *   fds N...       "fd N open|closed" for each fd (fcntl F_GETFD)
 *   sigs           disposition (dfl/ign/handler) of SIGUSR1, SIGUSR2, SIGTERM, SIGINT, SIGCHLD,
 *                  and the blocked and pending sets among them
 *   auxv           AT_EXECFN, AT_PAGESZ, AT_UID, AT_EUID, AT_GID, AT_SECURE, and whether
 *                  AT_RANDOM, AT_PHDR, AT_ENTRY are non-zero
 *   ids            pid, ppid, tid, pgid, sid
 *   prctl          comm (PR_GET_NAME), dumpable, no_new_privs, pdeathsig, subreaper
 *   wait-fd N      reads fd N until EOF, then exits 0 (a child that stays alive on command)
 *   exit N         exits with status N
 * Any other mode exits 2. When a script names this helper in its #! line, argv[1] is the
 * #! argument (if any), so "args" is also accepted at any argv position via SBX_HELPER_MODE
 * in the environment.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

extern char** environ;

static void print_args(int argc, char** argv) {
  printf("argc=%d\n", argc);
  for (int i = 0; i < argc; ++i) printf("argv[%d]=%s\n", i, argv[i]);
  for (char** e = environ; *e != NULL; ++e) printf("env=%s\n", *e);
}

static const char* disposition(int sig) {
  struct sigaction sa;
  if (sigaction(sig, NULL, &sa) != 0) return "error";
  if (sa.sa_handler == SIG_DFL) return "dfl";
  if (sa.sa_handler == SIG_IGN) return "ign";
  return "handler";
}

static void print_sigs(void) {
  static const int kSigs[] = {SIGUSR1, SIGUSR2, SIGTERM, SIGINT, SIGCHLD};
  sigset_t blocked, pending;
  sigprocmask(SIG_BLOCK, NULL, &blocked);
  sigpending(&pending);
  for (size_t i = 0; i < sizeof(kSigs) / sizeof(kSigs[0]); ++i) {
    printf("%s=%s\n", sigabbrev_np(kSigs[i]), disposition(kSigs[i]));
  }
  printf("blocked=");
  for (size_t i = 0; i < sizeof(kSigs) / sizeof(kSigs[0]); ++i) {
    if (sigismember(&blocked, kSigs[i])) printf("%s,", sigabbrev_np(kSigs[i]));
  }
  printf("\npending=");
  for (size_t i = 0; i < sizeof(kSigs) / sizeof(kSigs[0]); ++i) {
    if (sigismember(&pending, kSigs[i])) printf("%s,", sigabbrev_np(kSigs[i]));
  }
  printf("\n");
}

static void print_auxv(void) {
  const char* execfn = (const char*)getauxval(AT_EXECFN);
  printf("AT_EXECFN=%s\n", execfn ? execfn : "(null)");
  printf("AT_PAGESZ=%lu\n", getauxval(AT_PAGESZ));
  printf("AT_UID=%lu\n", getauxval(AT_UID));
  printf("AT_EUID=%lu\n", getauxval(AT_EUID));
  printf("AT_GID=%lu\n", getauxval(AT_GID));
  printf("AT_SECURE=%lu\n", getauxval(AT_SECURE));
  printf("AT_RANDOM=%s\n", getauxval(AT_RANDOM) ? "set" : "0");
  printf("AT_PHDR=%s\n", getauxval(AT_PHDR) ? "set" : "0");
  printf("AT_ENTRY=%s\n", getauxval(AT_ENTRY) ? "set" : "0");
}

static void print_prctl(void) {
  char name[17] = {0};
  prctl(PR_GET_NAME, name, 0, 0, 0);
  int pdeath = -1, subreaper = -1;
  prctl(PR_GET_PDEATHSIG, &pdeath, 0, 0, 0);
  prctl(PR_GET_CHILD_SUBREAPER, &subreaper, 0, 0, 0);
  printf("comm=%s\n", name);
  printf("dumpable=%d\n", prctl(PR_GET_DUMPABLE, 0, 0, 0, 0));
  printf("no_new_privs=%d\n", prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0));
  printf("pdeathsig=%d\n", pdeath);
  printf("subreaper=%d\n", subreaper);
}

int main(int argc, char** argv) {
  const char* mode = getenv("SBX_HELPER_MODE");
  int first = 2;
  if (mode == NULL) {
    if (argc < 2) return 2;
    mode = argv[1];
  } else {
    first = 1;
  }
  if (strcmp(mode, "args") == 0) {
    print_args(argc, argv);
  } else if (strcmp(mode, "argc") == 0) {
    size_t total = 0;
    for (int i = 0; i < argc; ++i) total += strlen(argv[i]);
    printf("argc=%d total=%zu\n", argc, total);
  } else if (strcmp(mode, "fds") == 0) {
    for (int i = first; i < argc; ++i) {
      int fd = atoi(argv[i]);
      printf("fd %d %s\n", fd, fcntl(fd, F_GETFD) >= 0 ? "open" : "closed");
    }
  } else if (strcmp(mode, "sigs") == 0) {
    print_sigs();
  } else if (strcmp(mode, "auxv") == 0) {
    print_auxv();
  } else if (strcmp(mode, "ids") == 0) {
    printf("pid=%d ppid=%d tid=%ld pgid=%d sid=%d\n", getpid(), getppid(),
           syscall(SYS_gettid), getpgrp(), getsid(0));
  } else if (strcmp(mode, "prctl") == 0) {
    print_prctl();
  } else if (strcmp(mode, "wait-fd") == 0 && argc > first) {
    int fd = atoi(argv[first]);
    char buf[64];
    ssize_t n;
    while ((n = read(fd, buf, sizeof(buf))) > 0 || (n < 0 && errno == EINTR)) {
    }
    return 0;
  } else if (strcmp(mode, "exit") == 0 && argc > first) {
    return atoi(argv[first]);
  } else {
    return 2;
  }
  fflush(stdout);
  return 0;
}
