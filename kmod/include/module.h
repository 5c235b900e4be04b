/*
 * module.h - what a kernel module includes to describe itself to kmod.
 *
 *   #include <module.h>
 *   MODULE_NAME("chardev");
 *   MODULE_LICENSE("MIT");
 *   MODULE_VERSION("1.0");
 *   MODULE_DESCRIPTION("a character device");
 *   MODULE_DEPENDS("core");            (one per dependency)
 *
 *   int chardev_read(char *buf, int len) { ... }
 *   EXPORT_SYMBOL(chardev_read);        (others may link against it)
 *
 *   static int start(void) { ...; return 0; }   (non-zero fails insmod)
 *   static void stop(void) { ... }
 *   module_init(start);
 *   module_exit(stop);
 *
 * Metadata goes into `.modinfo` as NUL-terminated "key=value" strings; the
 * names of exported symbols go into `.kmod_exports`. Only exported symbols
 * are visible to `modsym` and to other modules; they need external linkage.
 *
 * C++ modules use the same macros. An exported symbol is found by its
 * source name, so in C++ it needs C linkage (`extern "C"`); the init and
 * exit functions may be ordinary (static, mangled) C++ functions.
 */
#ifndef KMOD_MODULE_H
#define KMOD_MODULE_H

/* The ABI this header describes; insmod refuses a module whose tag differs
 * from the kernel's (the idea of Linux's vermagic). */
#define KMOD_ABI_VERSION "1"
#if defined(__x86_64__)
#define KMOD_ARCH "x86_64"
#elif defined(__aarch64__)
#define KMOD_ARCH "aarch64"
#elif defined(__riscv) && __riscv_xlen == 64
#define KMOD_ARCH "riscv64"
#elif defined(__riscv) && __riscv_xlen == 32
#define KMOD_ARCH "riscv32"
#elif defined(__arm__)
#define KMOD_ARCH "arm"
#else
#error "kmod: unsupported architecture"
#endif
#ifndef KMOD_ABI_TAG
#define KMOD_ABI_TAG "kmod-" KMOD_ABI_VERSION " " KMOD_ARCH
#endif

#define KMOD_CONCAT_(a, b) a##b
#define KMOD_CONCAT(a, b) KMOD_CONCAT_(a, b)
#define KMOD_UNIQUE(prefix) KMOD_CONCAT(prefix, __COUNTER__)

#define KMOD_MODINFO(key, value)                                                \
    static const char KMOD_UNIQUE(__kmod_info_)[]                               \
        __attribute__((section(".modinfo"), used, aligned(1))) = key "=" value

#define MODULE_NAME(name) KMOD_MODINFO("name", name)
#define MODULE_LICENSE(license) KMOD_MODINFO("license", license)
#define MODULE_VERSION(version) KMOD_MODINFO("version", version)
#define MODULE_DESCRIPTION(text) KMOD_MODINFO("description", text)
#define MODULE_DEPENDS(module) KMOD_MODINFO("depends", module)
#define MODULE_AUTHOR(author) KMOD_MODINFO("author", author)

/* Every module carries the ABI tag it was built for. */
KMOD_MODINFO("abi", KMOD_ABI_TAG);

#define EXPORT_SYMBOL(sym)                                                      \
    static const char __kmod_export_##sym[]                                     \
        __attribute__((section(".kmod_exports"), used, aligned(1))) = #sym;     \
    extern __typeof__(sym) sym

/* The entry points kmod looks up have C linkage in C and C++ alike: each is
 * a small function calling the module's own (static, and in C++ mangled)
 * init or exit function. */
#ifdef __cplusplus
#define KMOD_C_LINKAGE extern "C"
#else
#define KMOD_C_LINKAGE
#endif
#define module_init(fn)                                                         \
    KMOD_C_LINKAGE int __kmod_init(void);                                       \
    KMOD_C_LINKAGE int __kmod_init(void) { return fn(); }
#define module_exit(fn)                                                         \
    KMOD_C_LINKAGE void __kmod_exit(void);                                      \
    KMOD_C_LINKAGE void __kmod_exit(void) { fn(); }

#endif /* KMOD_MODULE_H */
