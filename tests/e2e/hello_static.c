// A statically linked guest for --rootfs tests: it needs nothing from its root filesystem.
// Prints its argv and the entries of "/", so the test sees which root the guest got.
#include <dirent.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) printf("arg %s\n", argv[i]);
  DIR* d = opendir("/");
  if (!d) {
    perror("opendir /");
    return 2;
  }
  struct dirent* e;
  while ((e = readdir(d)) != NULL) {
    if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) printf("entry %s\n", e->d_name);
  }
  closedir(d);
  return 0;
}
