/* Built with -fsanitize=address: must run normally under the shim, and its execs are seen. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv) {
    char *p = malloc(16);
    strcpy(p, "asan ok");
    puts(p);
    fflush(stdout);
    free(p);
    if (argc > 1) {
        execvp(argv[1], argv + 1);
        return 127;
    }
    return 0;
}
