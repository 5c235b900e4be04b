/* The sotest program: drives libmodprint.so and libsotest.so through the
 * dlfcn.h interface and prints one line per check, "PASS <what>" or
 * "FAIL <what>", then "<N> passed, <M> failed". Exit status 0 iff nothing
 * failed.
 *
 * Usage: sotest [DIR]   (DIR holds the two libraries; default ".")
 *
 * Built against libdl's include/dlfcn.h and linked with libmodlib_dl.a, so every
 * dl* call here goes to our loader; the "missing library" check prints
 * dlerror() so the output shows whose loader answered. Only standard C and
 * dlfcn.h are used: it must build for any target with a C library. */
#define _GNU_SOURCE 1
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "modprint.h"

#ifndef RTLD_DEFAULT
#define RTLD_DEFAULT ((void *)0)
#endif

static int passed;
static int failed;

static void check(int ok, const char *what)
{
    printf("%s %s\n", ok ? "PASS" : "FAIL", what);
    fflush(stdout);
    if (ok)
        passed++;
    else
        failed++;
}

static int finish(void)
{
    printf("%d passed, %d failed\n", passed, failed);
    fflush(stdout);
    return failed == 0 ? 0 : 1;
}

/* A check the rest depends on: on failure, report and stop. */
static void require(int ok, const char *what)
{
    check(ok, what);
    if (!ok) {
        const char *err = dlerror();
        printf("  dlerror: %s\n", err ? err : "(none)");
        exit(finish());
    }
}

/* Everything the logger saw, separated by single spaces. */
static char seen[512];

static void logger(const char *event)
{
    size_t used = strlen(seen);
    if (used + strlen(event) + 2 > sizeof seen)
        return;
    if (used > 0)
        seen[used++] = ' ';
    strcpy(seen + used, event);
}

static int contains(const char *text, const char *part)
{
    return text != NULL && strstr(text, part) != NULL;
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : ".";
    char modprint_path[1024];
    char sotest_path[1024];
    void *modprint_lib;
    void *sotest_lib;
    void *again;
    const char *err;
    Dl_info info;

    const char *(*events)(void);
    void (*set_logger)(modprint_logger);
    int (*add)(int, int);
    int (*greet)(const char *);
    int (*bump)(void);
    int *counter;
    const char *name;
    double *ratio;
    void *dep_modprint;

    snprintf(modprint_path, sizeof modprint_path, "%s/libmodprint.so", dir);
    snprintf(sotest_path, sizeof sotest_path, "%s/libsotest.so", dir);

    modprint_lib = dlopen(modprint_path, RTLD_NOW | RTLD_GLOBAL);
    require(modprint_lib != NULL, "open libmodprint.so (RTLD_NOW|RTLD_GLOBAL)");
    events = (const char *(*)(void))dlsym(modprint_lib, "modprint_events");
    set_logger = (void (*)(modprint_logger))dlsym(modprint_lib, "modprint_set_logger");
    require(events != NULL && set_logger != NULL, "find modprint_events and modprint_set_logger");
    check(strcmp(events(), "modprint:ctor") == 0, "modprint constructor ran at dlopen");
    set_logger(logger);

    sotest_lib = dlopen(sotest_path, RTLD_NOW);
    require(sotest_lib != NULL, "open libsotest.so (RTLD_NOW)");
    printf("  events: %s\n", events());
    check(strcmp(events(), "modprint:ctor sotest:ctor1 sotest:ctor2") == 0,
          "constructors ran dependency first, in priority order");
    again = dlopen(sotest_path, RTLD_NOW);
    check(again == sotest_lib, "second dlopen of libsotest.so returns the same handle");
    if (again != NULL)
        dlclose(again);

    add = (int (*)(int, int))dlsym(sotest_lib, "sotest_add");
    greet = (int (*)(const char *))dlsym(sotest_lib, "sotest_greet");
    bump = (int (*)(void))dlsym(sotest_lib, "sotest_bump");
    counter = (int *)dlsym(sotest_lib, "sotest_counter");
    name = (const char *)dlsym(sotest_lib, "sotest_name");
    ratio = (double *)dlsym(sotest_lib, "sotest_ratio");
    require(add && greet && bump && counter && name && ratio,
            "find the three functions and three data objects of libsotest.so");

    check(add(2, 3) == 5, "sotest_add(2, 3) == 5");
    check(greet("world") > 0, "sotest_greet calls into modprint");
    check(strcmp(name, "sotest") == 0, "sotest_name == \"sotest\"");
    check(*ratio == 0.5, "sotest_ratio == 0.5");
    check(*counter == 42, "sotest_counter starts at 42");
    *counter = 100;
    check(bump() == 101 && *counter == 101, "sotest_bump sees the written sotest_counter (100 -> 101)");

    dep_modprint = dlsym(sotest_lib, "modprint");
    check(dep_modprint != NULL && dep_modprint == dlsym(modprint_lib, "modprint"),
          "dlsym through libsotest.so finds its dependency's modprint");
    check(dlsym(RTLD_DEFAULT, "modprint_event") == dlsym(modprint_lib, "modprint_event"),
          "RTLD_DEFAULT finds modprint_event (RTLD_GLOBAL)");
    check(dlsym(RTLD_DEFAULT, "sotest_add") == NULL, "RTLD_DEFAULT does not find sotest_add (RTLD_LOCAL)");

    dlerror();
    check(dlsym(sotest_lib, "sotest_missing") == NULL && contains(dlerror(), "undefined symbol: sotest_missing"),
          "dlsym of a missing symbol fails with \"undefined symbol\"");

    memset(&info, 0, sizeof info);
    check(dladdr((void *)add, &info) != 0 && contains(info.dli_fname, "libsotest.so") &&
              info.dli_sname != NULL && strcmp(info.dli_sname, "sotest_add") == 0,
          "dladdr names libsotest.so and sotest_add");

    check(dlopen("libsotest-does-not-exist.so", RTLD_NOW) == NULL, "dlopen of a missing library fails");
    err = dlerror();
    printf("  dlerror: %s\n", err ? err : "(none)");
    check(contains(err, "cannot open shared object file: not found"),
          "the error comes from our loader (\"cannot open shared object file: not found\")");

    check(dlclose(modprint_lib) == 0, "dlclose libmodprint.so first, while libsotest.so needs it");
    again = dlopen(modprint_path, RTLD_NOW | RTLD_NOLOAD);
    check(again != NULL && dlclose(again) == 0, "libmodprint.so stays resident (RTLD_NOLOAD finds it)");
    check(strcmp(seen, "sotest:ctor1 sotest:ctor2") == 0, "no destructor ran yet");
    check(greet("again") > 0, "libsotest.so still calls modprint");

    check(dlclose(sotest_lib) == 0, "dlclose libsotest.so");
    printf("  logger saw: %s\n", seen);
    check(strcmp(seen, "sotest:ctor1 sotest:ctor2 sotest:dtor2 sotest:dtor1 modprint:dtor") == 0,
          "destructors ran dependent first, in reverse priority order");
    check(dlopen(sotest_path, RTLD_NOW | RTLD_NOLOAD) == NULL, "libsotest.so is unloaded (RTLD_NOLOAD gives NULL)");
    check(dlopen(modprint_path, RTLD_NOW | RTLD_NOLOAD) == NULL,
          "libmodprint.so is unloaded (RTLD_NOLOAD gives NULL)");
    check(dlclose(sotest_lib) != 0, "dlclose of a closed handle fails");

    return finish();
}
