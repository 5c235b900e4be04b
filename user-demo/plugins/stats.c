/* stats: counts words and characters, and lists the words by length;
 * uses snprintf and qsort from libc and sqrt from libm. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plugin.h"

#define MAX_WORDS 64

struct word {
    const char *start;
    size_t len;
};

const char *plugin_name(void)
{
    return "stats";
}

const char *plugin_description(void)
{
    return "counts words and characters, sorts the words by length";
}

static int by_length(const void *a, const void *b)
{
    const struct word *x = a;
    const struct word *y = b;

    if (x->len != y->len)
        return x->len < y->len ? -1 : 1;
    return x->start < y->start ? -1 : x->start > y->start;
}

int plugin_run(const char *input, char *out, size_t len)
{
    struct word words[MAX_WORDS];
    size_t count = 0;
    size_t chars = strlen(input);
    const char *p = input;
    double mean = 0.0;
    double var = 0.0;
    size_t used;
    size_t i;
    int n;

    while (*p != '\0') {
        while (*p == ' ' || *p == '\t' || *p == '\n')
            p++;
        if (*p == '\0')
            break;
        if (count == MAX_WORDS)
            return 1;
        words[count].start = p;
        while (*p != '\0' && *p != ' ' && *p != '\t' && *p != '\n')
            p++;
        words[count].len = (size_t)(p - words[count].start);
        count++;
    }
    for (i = 0; i < count; i++)
        mean += (double)words[i].len;
    if (count > 0)
        mean /= (double)count;
    for (i = 0; i < count; i++)
        var += ((double)words[i].len - mean) * ((double)words[i].len - mean);
    if (count > 0)
        var /= (double)count;
    qsort(words, count, sizeof words[0], by_length);

    n = snprintf(out, len, "%zu words, %zu chars, word length %.2f +/- %.2f; by length:",
                 count, chars, mean, sqrt(var));
    if (n < 0 || (size_t)n >= len)
        return 1;
    used = (size_t)n;
    for (i = 0; i < count; i++) {
        n = snprintf(out + used, len - used, " %.*s", (int)words[i].len, words[i].start);
        if (n < 0 || (size_t)n >= len - used)
            return 1;
        used += (size_t)n;
    }
    return 0;
}
