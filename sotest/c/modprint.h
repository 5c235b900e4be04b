/* modprint: the dependency library of the sotest suite. It prints, and it
 * keeps an event log that its users (libsotest, the test program) append
 * constructor and destructor events to, so the program can check their
 * order. Only stdio/stdlib/string are used: this must build for any target
 * with a C library. */
#ifndef MODPRINT_H
#define MODPRINT_H

/* Receives each event as it is recorded (set by the program; events from
 * destructors can only be observed this way, the library being gone after). */
typedef void (*modprint_logger)(const char *event);

/* printf to stdout with a "[modprint] " prefix; returns the characters
 * printed (prefix included) or a negative value on error. */
int modprint(const char *fmt, ...);

/* Appends `event` to the log and passes it to the logger, if one is set. */
void modprint_event(const char *event);

/* The events recorded so far, separated by single spaces. */
const char *modprint_events(void);

/* Installs (or, with NULL, removes) the logger. */
void modprint_set_logger(modprint_logger logger);

#endif
