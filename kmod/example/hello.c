/* An example module built outside kmod's tree with module.mk: it keeps a
 * greeting count, exports a function other modules may call, and logs
 * through the kernel's printk. */
#include <module.h>

MODULE_NAME("hello");
MODULE_LICENSE("MIT");
MODULE_VERSION("1.0");
MODULE_DESCRIPTION("example module: counts greetings");
MODULE_AUTHOR("kmod");

/* From the kernel's exported-symbol table. */
extern void printk(const char *msg);

static int greetings;

int hello_greet(void)
{
    printk("hello: greetings");
    return ++greetings;
}
EXPORT_SYMBOL(hello_greet);

static int hello_start(void)
{
    printk("hello: loaded");
    return 0;
}

static void hello_stop(void)
{
    printk("hello: unloaded");
}

module_init(hello_start);
module_exit(hello_stop);
