/*
 * Linked into every C++ shared library of the Cortex-M system, with
 * -Wl,--wrap=__gxx_personality_v0. A library's exception tables name the
 * C++ personality routine, which the user image provides, with an
 * R_ARM_PREL31 word; GNU ld (2.40) points it at the routine's Thumb PLT
 * entry without the Thumb bit, and the unwinder's call to that even
 * address faults on a Cortex-M, which executes Thumb only. With --wrap the
 * tables name this local Thumb function instead, which tail-calls the
 * image's routine through the PLT.
 */
struct _Unwind_Control_Block;
struct _Unwind_Context;

extern "C" int __real___gxx_personality_v0(int state, _Unwind_Control_Block *ucbp,
                                           _Unwind_Context *context);

extern "C" __attribute__((visibility("hidden"))) int
__wrap___gxx_personality_v0(int state, _Unwind_Control_Block *ucbp,
                            _Unwind_Context *context) noexcept {
    return __real___gxx_personality_v0(state, ucbp, context);
}
