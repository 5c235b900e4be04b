/* The shared library the hello.mo program module depends on. */
#include <stdio.h>

static char message[64];

const char *greet_message(int argc)
{
    snprintf(message, sizeof message, "greetings to all %d of you", argc);
    return message;
}
