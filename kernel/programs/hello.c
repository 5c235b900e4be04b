/* An executable module: the user runtime loads it with dlopen, calls
 * main(argc, argv) and unloads it. It uses a shared library (libgreet.so)
 * from the ramfs, found through DT_NEEDED, including its thread-local
 * storage. */
#include <stdio.h>

const char *greet_message(int argc);
int greet_count(void);

/* Returns 0 when given arguments and the thread-local counter starts from
 * its initial value, 2 when not. */
int main(int argc, char **argv)
{
    printf("hello.mo: main called with %d argument(s):", argc);
    for (int i = 0; i < argc; i++)
        printf(" %s", argv[i]);
    printf("\n");
    printf("hello.mo: libgreet.so says \"%s\"\n", greet_message(argc));
    int first = greet_count(), second = greet_count();
    printf("hello.mo: libgreet.so's thread-local counter: %d, then %d\n", first, second);
    return argc > 1 && first == 41 && second == 42 ? 0 : 2;
}
