/* reverse: the input's bytes in reverse order. */
#include <string.h>

#include "plugin.h"

const char *plugin_name(void)
{
    return "reverse";
}

const char *plugin_description(void)
{
    return "reverses the text";
}

int plugin_run(const char *input, char *out, size_t len)
{
    size_t n = strlen(input);
    size_t i;

    if (n + 1 > len)
        return 1;
    for (i = 0; i < n; i++)
        out[i] = input[n - 1 - i];
    out[n] = '\0';
    return 0;
}
