/* upper: the input with ASCII letters upper-cased (toupper from libc). */
#include <ctype.h>

#include "plugin.h"

const char *plugin_name(void)
{
    return "upper";
}

const char *plugin_description(void)
{
    return "upper-cases ASCII letters";
}

int plugin_run(const char *input, char *out, size_t len)
{
    size_t i;

    for (i = 0; input[i] != '\0'; i++) {
        if (i + 1 >= len)
            return 1;
        out[i] = (char)toupper((unsigned char)input[i]);
    }
    if (len == 0)
        return 1;
    out[i] = '\0';
    return 0;
}
