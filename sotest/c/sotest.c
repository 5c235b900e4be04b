/* libsotest.so: the library under test. It needs libmodprint.so
 * (DT_NEEDED), exports three functions and three data objects with known
 * initial values, and has two constructors and two destructors (with
 * priorities, so their order is defined) that record themselves through
 * modprint's event log. */
#include "modprint.h"

int sotest_counter = 42;
const char sotest_name[] = "sotest";
double sotest_ratio = 0.5;

/* a + b. */
int sotest_add(int a, int b)
{
    return a + b;
}

/* Greets `who` through modprint; returns what modprint returned. */
int sotest_greet(const char *who)
{
    return modprint("hello, %s, from %s (ratio %.2f)\n", who, sotest_name, sotest_ratio);
}

/* Increments sotest_counter and returns its new value. */
int sotest_bump(void)
{
    return ++sotest_counter;
}

__attribute__((constructor(101))) static void sotest_init_first(void)
{
    modprint_event("sotest:ctor1");
}

__attribute__((constructor(102))) static void sotest_init_second(void)
{
    modprint_event("sotest:ctor2");
}

/* Destructors run in the reverse order: 102 first, then 101. */
__attribute__((destructor(102))) static void sotest_fini_second(void)
{
    modprint_event("sotest:dtor2");
}

__attribute__((destructor(101))) static void sotest_fini_first(void)
{
    modprint_event("sotest:dtor1");
}
