/* The user-demo plugin ABI (version 1).
 *
 * A plugin is a shared object built from C (or anything with a C ABI), for
 * example:
 *
 *     gcc -shared -fPIC -O2 -I user-demo/plugins upper.c -o upper.so -lm
 *
 * and placed in the plugin directory user-demo scans (every file ending in
 * ".so"). It exports these three functions, with default visibility:
 *
 *   plugin_name         a short name: a static NUL-terminated string.
 *   plugin_description  one line saying what the plugin does: a static
 *                       NUL-terminated string.
 *   plugin_run          transforms `input` (NUL-terminated UTF-8) and writes
 *                       the result, NUL-terminated, into `out`, which holds
 *                       `len` bytes (the NUL included). Returns 0 on
 *                       success and non-zero on failure (for example when
 *                       the result does not fit); on failure the contents
 *                       of `out` are unspecified.
 *
 * The host loads each plugin with RTLD_NOW | RTLD_LOCAL, calls the functions
 * from one thread, and unloads the plugin afterwards. A plugin may use the C
 * library and libm; it must not keep pointers to `input` or `out` after
 * plugin_run returns. A plugin that fails to load (an undefined symbol, say)
 * or lacks one of the functions is reported and skipped.
 */
#ifndef USER_DEMO_PLUGIN_H
#define USER_DEMO_PLUGIN_H

#include <stddef.h>

const char *plugin_name(void);
const char *plugin_description(void);
int plugin_run(const char *input, char *out, size_t len);

#endif
