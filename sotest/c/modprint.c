/* libmodprint.so: printing and an event log for the sotest suite.
 * Its constructor and destructor record themselves in the log. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "modprint.h"

static char events[512];
static modprint_logger logger;

int modprint(const char *fmt, ...)
{
    va_list ap;
    int prefix = printf("[modprint] ");
    int body;

    va_start(ap, fmt);
    body = vprintf(fmt, ap);
    va_end(ap);
    fflush(stdout);
    return prefix < 0 || body < 0 ? -1 : prefix + body;
}

void modprint_event(const char *event)
{
    size_t used = strlen(events);
    size_t need = strlen(event) + (used > 0 ? 1 : 0);

    if (used + need < sizeof events) {
        if (used > 0)
            events[used++] = ' ';
        strcpy(events + used, event);
    }
    if (logger)
        logger(event);
}

const char *modprint_events(void)
{
    return events;
}

void modprint_set_logger(modprint_logger fn)
{
    logger = fn;
}

__attribute__((constructor)) static void modprint_init(void)
{
    modprint_event("modprint:ctor");
}

__attribute__((destructor)) static void modprint_fini(void)
{
    modprint_event("modprint:dtor");
}
