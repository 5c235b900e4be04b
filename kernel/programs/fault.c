/* Protection probes: a user library that touches what it must not. The
 * kernel ends the task with a page fault and carries on. */

/* Reads the kernel's first page: supervisor-only. */
int fault_read_kernel(void)
{
    volatile const long *kernel = (volatile const long *)0x80200000UL;
    return (int)*kernel;
}

/* Writes over its own code: the text is mapped read-execute (W^X). */
int fault_write_text(void)
{
    volatile unsigned char *text = (volatile unsigned char *)(void *)&fault_write_text;
    *text = 0;
    return 0;
}
