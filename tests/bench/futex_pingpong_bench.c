/* Futex hand-off benchmark: a token goes around a ring of 32 threads R times; each hand-off
 * is a store plus FUTEX_WAKE of the one sleeping receiver, which returns from FUTEX_WAIT.
 * Prints "ns_per_call=<float>" (per hand-off) for process_bench.py, plus a human line.
 * Usage: futex_pingpong_bench [R], R (rounds) defaults to 200. */
#define _GNU_SOURCE
#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define THREADS 32

static atomic_uint slots[THREADS];
static long rounds;

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void* ring(void* arg) {
  int me = (int)(intptr_t)arg, next = (me + 1) % THREADS;
  for (long r = 0; r < rounds; ++r) {
    while (atomic_load(&slots[me]) == 0) {
      syscall(SYS_futex, &slots[me], FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0);
    }
    atomic_store(&slots[me], 0);
    atomic_store(&slots[next], 1);
    syscall(SYS_futex, &slots[next], FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
  }
  return NULL;
}

int main(int argc, char** argv) {
  rounds = argc > 1 ? strtol(argv[1], NULL, 10) : 200;
  if (rounds <= 0) {
    fprintf(stderr, "futex_pingpong_bench: R must be positive\n");
    return 2;
  }
  pthread_t t[THREADS];
  for (int i = 0; i < THREADS; ++i) {
    if (pthread_create(&t[i], NULL, ring, (void*)(intptr_t)i) != 0) return 1;
  }
  double start = now_ns();
  atomic_store(&slots[0], 1);
  syscall(SYS_futex, &slots[0], FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
  for (int i = 0; i < THREADS; ++i) pthread_join(t[i], NULL);
  double per = (now_ns() - start) / (double)(rounds * THREADS);
  printf("futex ping-pong: %d threads, %ld rounds, %.1f us/hand-off\n", THREADS, rounds,
         per / 1e3);
  printf("ns_per_call=%.3f\n", per);
  return 0;
}
