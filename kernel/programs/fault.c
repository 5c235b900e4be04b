/* Protection probes: a user library that touches what it must not. The
 * kernel ends the task (a page fault on riscv64, a MemManage fault on
 * Cortex-M) and carries on. */

#if defined(__riscv)
#define KERNEL_ADDRESS 0x80200000UL /* the kernel's first page */
#elif defined(__arm__)
#define KERNEL_ADDRESS 0x20000000UL /* kernel data */
#endif

/* Reads kernel memory: privileged only. */
int fault_read_kernel(void)
{
    volatile const long *kernel = (volatile const long *)KERNEL_ADDRESS;
    return (int)*kernel;
}

/* Writes over its own code: the text is read-execute (W^X). */
int fault_write_text(void)
{
    volatile unsigned char *text = (volatile unsigned char *)(void *)&fault_write_text;
    *text = 0;
    return 0;
}

/* A function's worth of instructions in writable data: on riscv64
 * `li a0, 42; ret`, on Thumb `movs r0, #42; bx lr`. */
#if defined(__riscv)
static unsigned int data_code[2] = {0x02a00513, 0x00008067};
#define DATA_ENTRY ((unsigned long)data_code)
#elif defined(__arm__)
static unsigned short data_code[2] = {0x202a, 0x4770};
#define DATA_ENTRY ((unsigned long)data_code | 1) /* Thumb */
#endif

/* Calls the code in its data: data is never executable. */
int fault_exec_data(void)
{
    int (*f)(void) = (int (*)(void))DATA_ENTRY;
    return f();
}

/* Calls a kernel module's function at `address`: module code is
 * privileged only. */
int fault_call(unsigned long address)
{
    int (*f)(void) = (int (*)(void))address;
    return f();
}
