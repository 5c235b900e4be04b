/* broken: deliberately unloadable. It calls a helper no library defines,
 * so binding it at load time fails with an undefined-symbol error and the
 * host reports that instead of running it. (gcc -shared accepts undefined
 * symbols; only the loader notices.) */
#include "plugin.h"

int plugin_helper_that_does_not_exist(const char *input, char *out, size_t len);

const char *plugin_name(void)
{
    return "broken";
}

const char *plugin_description(void)
{
    return "needs a symbol nothing provides";
}

int plugin_run(const char *input, char *out, size_t len)
{
    return plugin_helper_that_does_not_exist(input, out, len);
}
