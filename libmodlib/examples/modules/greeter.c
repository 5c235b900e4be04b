/* A small module for the hosted demo: it imports two host functions,
 * keeps state, has a constructor and a destructor, and says who it is. */
extern void host_print(const char *line);
extern int host_format_int(char *buf, int len, const char *label, long value);

__attribute__((section(".modinfo"), used))
static const char modinfo[] = "name=greeter\0version=1.0\0license=MIT\0description=hosted demo module";

static long calls;
static char line[128];

__attribute__((constructor)) static void greeter_init(void) { host_print("greeter: constructor ran"); }
__attribute__((destructor)) static void greeter_exit(void) { host_print("greeter: destructor ran"); }

long greet(const char *who) {
    calls++;
    host_print(who);
    host_format_int(line, sizeof line, "greeter: calls so far", calls);
    host_print(line);
    return calls;
}

static long square(long x) { return x * x; }

long sum_of_squares(long n) {
    long total = 0;
    for (long i = 1; i <= n; i++) total += square(i);
    return total;
}
