/* The shared library the hello.mo program module depends on. It counts
 * its greetings in a thread-local variable (PT_TLS, reached through
 * __tls_get_addr, which the user runtime provides). */
#include <stdio.h>

static char message[64];
static __thread int greetings = 40;

int greet_count(void);

const char *greet_message(int argc)
{
    snprintf(message, sizeof message, "greetings to all %d of you", argc);
    return message;
}

/* 41 on the first call: the task's block starts as the template. */
int greet_count(void) { return ++greetings; }
