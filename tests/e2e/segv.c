/* Guest that dies of SIGSEGV by storing through a null pointer. The pointer is volatile so
 * the compiler cannot turn the store into a trap instruction (which would raise SIGILL). The
 * e2e driver expects `sandbox run` to exit with 128 + SIGSEGV = 139. */
#include <stddef.h>

int main(void) {
  int* volatile p = NULL;
  *p = 42;
  return 0;
}
