//! The resolvers TLS descriptors call, one per machine. Entered from
//! compiled code with the descriptor's address in one register (`rax` on
//! x86_64, `x0` on aarch64, `r0` on 32-bit Arm; the descriptor's argument
//! word, the second on x86_64 and aarch64 and the first on Arm, is the
//! address of a `tls_index`), each returns the variable's address minus
//! the thread pointer in that register and leaves every other register
//! as it found it (on Arm `r1` and the flags excepted), vector state
//! included: the compiler keeps values in registers across the call, and
//! the first use in a thread allocates and copies (through libc, which
//! uses vector registers).

#[cfg(target_arch = "x86_64")]
use core::sync::atomic::{AtomicU64, Ordering};

/// The aarch64 resolver's address.
#[cfg(target_arch = "aarch64")]
pub(crate) fn aarch64_resolver() -> u64 {
    (tls_descriptor_resolver as unsafe extern "C" fn()) as usize as u64
}

/// The x86_64 resolver's address, if the CPU can save its whole register
/// state with `xsave`.
#[cfg(target_arch = "x86_64")]
pub(crate) fn x86_64_resolver() -> Option<u64> {
    xsave_size().map(|size| {
        XSAVE_SIZE.store(size, Ordering::Relaxed);
        (tls_descriptor_resolver as unsafe extern "C" fn()) as usize as u64
    })
}

/// Bytes `xsave` writes for the state the system enabled, if the CPU and
/// system support it.
#[cfg(target_arch = "x86_64")]
fn xsave_size() -> Option<u64> {
    use core::arch::x86_64::__cpuid_count;
    // CPUID.1:ECX bit 27 (OSXSAVE): xsave is supported and enabled.
    if __cpuid_count(1, 0).ecx & (1 << 27) == 0 {
        return None;
    }
    // CPUID.(0xD, 0):EBX: the area size for the features enabled in XCR0.
    Some(u64::from(__cpuid_count(0xd, 0).ebx)).filter(|&n| n >= 576)
}

/// The `xsave` area size, set before any resolver is handed out.
#[cfg(target_arch = "x86_64")]
static XSAVE_SIZE: AtomicU64 = AtomicU64::new(0);

/// The x86_64 resolver: `rax` is the descriptor. Saves the general
/// registers a call may clobber, and the whole extended state with
/// `xsave` (x87, SSE, AVX, AVX-512...), around [`super::tls::tls_get_addr`].
#[cfg(target_arch = "x86_64")]
#[unsafe(naked)]
unsafe extern "C" fn tls_descriptor_resolver() {
    core::arch::naked_asm!(
        "push rbp",
        "mov rbp, rsp",
        "push rbx",
        "push rcx",
        "push rdx",
        "push rsi",
        "push rdi",
        "push r8",
        "push r9",
        "push r10",
        "push r11",
        "mov rdi, [rax + 8]",
        "sub rsp, [rip + {size}]",
        "and rsp, -64",
        // The header of the area must be zero for `xrstor`.
        "xor eax, eax",
        "mov [rsp + 512], rax",
        "mov [rsp + 520], rax",
        "mov [rsp + 528], rax",
        "mov [rsp + 536], rax",
        "mov [rsp + 544], rax",
        "mov [rsp + 552], rax",
        "mov [rsp + 560], rax",
        "mov [rsp + 568], rax",
        "mov eax, -1",
        "mov edx, -1",
        "xsave [rsp]",
        "call {get}",
        "mov rbx, rax",
        "mov eax, -1",
        "mov edx, -1",
        "xrstor [rsp]",
        "mov rax, rbx",
        "sub rax, fs:[0]",
        "lea rsp, [rbp - 72]",
        "pop r11",
        "pop r10",
        "pop r9",
        "pop r8",
        "pop rdi",
        "pop rsi",
        "pop rdx",
        "pop rcx",
        "pop rbx",
        "pop rbp",
        "ret",
        size = sym XSAVE_SIZE,
        get = sym super::tls::tls_get_addr,
    );
}

/// The resolver of TLS descriptors (aarch64): entered from the code with
/// the descriptor's address in x0 (its second word is the address of a
/// `tls_index`), returns in x0 the variable's address minus the thread
/// pointer, and keeps every other register as it found it (the code
/// assumes so): the general registers a call may clobber and all of the
/// SIMD registers are saved around the call to [`tls_get_addr`].
#[cfg(target_arch = "aarch64")]
#[unsafe(naked)]
unsafe extern "C" fn tls_descriptor_resolver() {
    core::arch::naked_asm!(
        "stp x29, x30, [sp, #-16]!",
        "mov x29, sp",
        "stp x1, x2, [sp, #-16]!",
        "stp x3, x4, [sp, #-16]!",
        "stp x5, x6, [sp, #-16]!",
        "stp x7, x8, [sp, #-16]!",
        "stp x9, x10, [sp, #-16]!",
        "stp x11, x12, [sp, #-16]!",
        "stp x13, x14, [sp, #-16]!",
        "stp x15, x16, [sp, #-16]!",
        "stp x17, x18, [sp, #-16]!",
        "stp q0, q1, [sp, #-32]!",
        "stp q2, q3, [sp, #-32]!",
        "stp q4, q5, [sp, #-32]!",
        "stp q6, q7, [sp, #-32]!",
        "stp q8, q9, [sp, #-32]!",
        "stp q10, q11, [sp, #-32]!",
        "stp q12, q13, [sp, #-32]!",
        "stp q14, q15, [sp, #-32]!",
        "stp q16, q17, [sp, #-32]!",
        "stp q18, q19, [sp, #-32]!",
        "stp q20, q21, [sp, #-32]!",
        "stp q22, q23, [sp, #-32]!",
        "stp q24, q25, [sp, #-32]!",
        "stp q26, q27, [sp, #-32]!",
        "stp q28, q29, [sp, #-32]!",
        "stp q30, q31, [sp, #-32]!",
        "ldr x0, [x0, #8]",
        "bl {get}",
        "mrs x1, tpidr_el0",
        "sub x0, x0, x1",
        "ldp q30, q31, [sp], #32",
        "ldp q28, q29, [sp], #32",
        "ldp q26, q27, [sp], #32",
        "ldp q24, q25, [sp], #32",
        "ldp q22, q23, [sp], #32",
        "ldp q20, q21, [sp], #32",
        "ldp q18, q19, [sp], #32",
        "ldp q16, q17, [sp], #32",
        "ldp q14, q15, [sp], #32",
        "ldp q12, q13, [sp], #32",
        "ldp q10, q11, [sp], #32",
        "ldp q8, q9, [sp], #32",
        "ldp q6, q7, [sp], #32",
        "ldp q4, q5, [sp], #32",
        "ldp q2, q3, [sp], #32",
        "ldp q0, q1, [sp], #32",
        "ldp x17, x18, [sp], #16",
        "ldp x15, x16, [sp], #16",
        "ldp x13, x14, [sp], #16",
        "ldp x11, x12, [sp], #16",
        "ldp x9, x10, [sp], #16",
        "ldp x7, x8, [sp], #16",
        "ldp x5, x6, [sp], #16",
        "ldp x3, x4, [sp], #16",
        "ldp x1, x2, [sp], #16",
        "ldp x29, x30, [sp], #16",
        "ret",
        get = sym super::tls::tls_get_addr,
    );
}

/// The 32-bit Arm resolver's address: the variant that also saves
/// `d16`-`d31` when the VFP unit has them (`HWCAP_VFPD32`).
#[cfg(target_arch = "arm")]
pub(crate) fn arm_resolver() -> u64 {
    /// `AT_HWCAP` bit: the VFP unit has 32 double registers, not 16.
    const HWCAP_VFPD32: libc::c_ulong = 1 << 19;
    // SAFETY: getauxval has no preconditions.
    let hwcap = unsafe { libc::getauxval(libc::AT_HWCAP) };
    let resolver: unsafe extern "C" fn() = if hwcap & HWCAP_VFPD32 != 0 {
        tls_descriptor_resolver_d32
    } else {
        tls_descriptor_resolver_d16
    };
    resolver as usize as u64
}

/// Defines a 32-bit Arm resolver, saving the VFP registers the call may
/// clobber: `d0`-`d7` always, and the extra lines' (`d16`-`d31`).
///
/// Entered (from the linker's `bx` trampoline or a direct call) with the
/// descriptor's address in `r0`, whose first word is the address of a
/// `tls_index`; returns in `r0` the variable's address minus the thread
/// pointer (`TPIDRURO`). It keeps every other register but the flags:
/// `r2`, `r3` and `r12`, which the code may hold values in across the call
/// (gcc's pattern clobbers only `r0`, `r1`, `lr` and the flags; the
/// linker's trampoline itself uses `r1`), `r1` and `lr` as well, the VFP
/// registers a call may clobber with `FPSCR` (`d8`-`d15` and `r4`-`r11`
/// the callee keeps). The caller's stack may be 4 mod 8 (it pushed `lr`
/// alone), so the stack is aligned before [`super::tls::tls_get_addr`] is
/// called, as the procedure call standard requires. The return (`pop` into
/// `pc`) goes back in the caller's state, Thumb or Arm, as `lr` says.
#[cfg(target_arch = "arm")]
macro_rules! arm_resolver {
    ($name:ident, $($save:literal)*; $($restore:literal)*) => {
        /// A 32-bit Arm TLS descriptor resolver (see `arm_resolver!`).
        #[unsafe(naked)]
        unsafe extern "C" fn $name() {
            // SAFETY: entered as the descriptor ABI says, with `r0` the
            // address of a descriptor this loader wrote (its first word the
            // address of a `tls_index` record it filled in), so the load
            // and `tls_get_addr`'s contract hold. Every register it or the
            // call may change but `r0` and the flags is saved first and
            // restored last; the stack below the caller's is used and
            // given back (`r4` keeps the entry `sp` across the call, which
            // preserves `r4`).
            core::arch::naked_asm!(
                "push {{r1, r2, r3, r4, r12, lr}}",
                "mov r4, sp",
                "bic r12, r4, #7",
                "mov sp, r12",
                "vmrs r1, fpscr",
                "sub sp, sp, #8",
                "str r1, [sp]",
                "vpush {{d0-d7}}",
                $($save,)*
                "ldr r0, [r0]",
                "bl {get}",
                $($restore,)*
                "vpop {{d0-d7}}",
                "ldr r1, [sp]",
                "vmsr fpscr, r1",
                "mrc p15, 0, r1, c13, c0, 3",
                "sub r0, r0, r1",
                "mov sp, r4",
                "pop {{r1, r2, r3, r4, r12, pc}}",
                get = sym super::tls::tls_get_addr,
            );
        }
    };
}

#[cfg(target_arch = "arm")]
arm_resolver!(tls_descriptor_resolver_d16, ;);

// `d16`-`d31` exist only with VFPD32 (the target's baseline has 16
// double registers): `.fpu neon` lets the assembler take them, and
// `.fpu vfpv3-d16` goes back to the target's unit.
#[cfg(target_arch = "arm")]
arm_resolver!(
    tls_descriptor_resolver_d32,
    ".fpu neon" "vpush {{d16-d31}}" ".fpu vfpv3-d16";
    ".fpu neon" "vpop {{d16-d31}}" ".fpu vfpv3-d16"
);
