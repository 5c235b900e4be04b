/*
 * libthrow.so: a C++ library that throws. One exception is thrown and
 * caught inside the library, with a destructor run while unwinding; the
 * other leaves the library, through a frame with a destructor, for its
 * caller to catch. The C++ runtime (__cxa_*, the personality routine, the
 * unwinder and typeinfo for int) comes from the user image.
 *
 * Bare-metal EHABI reaches a catch clause's typeinfo PC-relative from
 * the exception tables (read-only), so a shared library can only catch
 * types whose typeinfo it holds itself: lib_error, local because the
 * library is built -fvisibility=hidden (only the extern "C" functions
 * below are exported). Throwing is not limited: throw_out throws an int.
 */
#include <exception>

#define API extern "C" __attribute__((visibility("default")))

namespace {

int cleanups;

/* Counts its destruction: proof that unwinding ran the cleanup. */
struct Guard {
    ~Guard() { cleanups++; }
};

struct lib_error : std::exception {
    explicit lib_error(int c) : code(c) {}
    const char *what() const noexcept override { return "lib_error"; }
    int code;
};

__attribute__((noinline)) int fail_deep(int code) {
    Guard guard;
    if (code)
        throw lib_error(code);
    return 0;
}

__attribute__((noinline)) void raise_int(int value) {
    if (value)
        throw value;
}

} // namespace

/* Throws lib_error(code) two frames down and catches it here; returns the
 * code caught (0 if code is 0 and nothing was thrown). */
API int throw_inside(int code) {
    try {
        return fail_deep(code);
    } catch (const lib_error &e) {
        return e.code;
    }
}

/* Throws the int `value` out of the library (after running a Guard's
 * destructor on the way); returns 0 only if value is 0. */
API int throw_out(int value) {
    Guard guard;
    raise_int(value);
    return 0;
}

/* How many Guard destructors have run. */
API int cleanups_run(void) { return cleanups; }
