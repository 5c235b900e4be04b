/* An executable module: the user runtime loads it with dlopen, calls
 * main(argc, argv) and unloads it. It uses a shared library (libgreet.so)
 * from the ramfs, found through DT_NEEDED. */
#include <stdio.h>

const char *greet_message(int argc);

/* Returns 0 when given arguments, 2 when not. */
int main(int argc, char **argv)
{
    printf("hello.mo: main called with %d argument(s):", argc);
    for (int i = 0; i < argc; i++)
        printf(" %s", argv[i]);
    printf("\n");
    printf("hello.mo: libgreet.so says \"%s\"\n", greet_message(argc));
    return argc > 1 ? 0 : 2;
}
