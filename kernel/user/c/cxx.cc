/*
 * The C++ half of the user runtime on Cortex-M: a catching call for the
 * Rust tasks, which cannot catch C++ exceptions themselves. The rest of
 * the C++ runtime (libsupc++ and libgcc's EHABI unwinder) is linked from
 * the toolchain and exported in the user symbol table.
 */

/* Calls f(arg). Returns 0 with f's result in *value if f returns, 1 with
 * the int in *value if f throws an int, and 2 if it throws anything else;
 * nothing thrown by f leaves this function. */
extern "C" int cxx_call_catching(int (*f)(int), int arg, int *value) noexcept {
    try {
        *value = f(arg);
        return 0;
    } catch (int thrown) {
        *value = thrown;
        return 1;
    } catch (...) {
        return 2;
    }
}

/* Registers a static object's destructor for exit. A task's memory goes
 * back to the kernel whole when it exits, so none is kept or run. */
extern "C" int __cxa_atexit(void (*)(void *), void *, void *) noexcept { return 0; }
