/*
 * The C half of the user runtime: the parts of a C library that libraries
 * and programs loaded in the user image call (formatted output, strings,
 * sorting, a little math). Memory, output, exit and the dlfcn functions come
 * from the Rust half (rt_* below). Together they are the user symbol table.
 */
typedef __SIZE_TYPE__ size_t;
typedef __builtin_va_list va_list;
#define va_start(ap, last) __builtin_va_start(ap, last)
#define va_arg(ap, type) __builtin_va_arg(ap, type)
#define va_end(ap) __builtin_va_end(ap)

void rt_write(const char *buf, size_t len);
void rt_exit(int status) __attribute__((noreturn));

/* stdio streams are only tokens here: every stream is the console. */
void *stdin = (void *)0;
void *stdout = (void *)1;
void *stderr = (void *)2;

size_t strlen(const char *s) { size_t n = 0; while (s[n]) n++; return n; }
size_t strnlen(const char *s, size_t max) { size_t n = 0; while (n < max && s[n]) n++; return n; }
int strcmp(const char *a, const char *b) {
    while (*a && *a == *b) { a++; b++; }
    return (unsigned char)*a - (unsigned char)*b;
}
int strncmp(const char *a, const char *b, size_t n) {
    for (; n; n--, a++, b++) {
        if (*a != *b || !*a) return (unsigned char)*a - (unsigned char)*b;
    }
    return 0;
}
char *strcpy(char *d, const char *s) { char *r = d; while ((*d++ = *s++)) {} return r; }
char *strncpy(char *d, const char *s, size_t n) {
    size_t i = 0;
    for (; i < n && s[i]; i++) d[i] = s[i];
    for (; i < n; i++) d[i] = 0;
    return d;
}
char *strcat(char *d, const char *s) { strcpy(d + strlen(d), s); return d; }
char *strchr(const char *s, int c) {
    for (;; s++) { if (*s == (char)c) return (char *)s; if (!*s) return 0; }
}
char *strrchr(const char *s, int c) {
    const char *r = 0;
    for (;; s++) { if (*s == (char)c) r = s; if (!*s) return (char *)r; }
}
char *strstr(const char *h, const char *n) {
    size_t len = strlen(n);
    for (; *h; h++) if (!strncmp(h, n, len)) return (char *)h;
    return len ? 0 : (char *)h;
}
int toupper(int c) { return c >= 'a' && c <= 'z' ? c - 32 : c; }
int tolower(int c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; }
int isspace(int c) { return c == ' ' || (c >= '\t' && c <= '\r'); }
int isdigit(int c) { return c >= '0' && c <= '9'; }
int isalpha(int c) { return (c | 32) >= 'a' && (c | 32) <= 'z'; }
int isalnum(int c) { return isalpha(c) || isdigit(c); }
int isupper(int c) { return c >= 'A' && c <= 'Z'; }
int islower(int c) { return c >= 'a' && c <= 'z'; }

/* glibc's <ctype.h> inlines table lookups through these accessors, so
 * libraries built against its headers need them. Tables cover -128..255. */
static int ctype_upper[384], ctype_lower[384];
static unsigned short ctype_bits[384];
static const int *ctype_upper_ptr, *ctype_lower_ptr;
static const unsigned short *ctype_bits_ptr;

static unsigned short ctype_is(int bit) { return (unsigned short)(bit < 8 ? (1 << bit) << 8 : (1 << bit) >> 8); }

static void ctype_init(void) {
    if (ctype_bits_ptr) return;
    for (int i = 0; i < 384; i++) {
        int c = i - 128;
        ctype_upper[i] = c >= 0 ? toupper(c) : c;
        ctype_lower[i] = c >= 0 ? tolower(c) : c;
        unsigned short b = 0;
        if (c >= 0 && c < 128) {
            if (isupper(c)) b |= ctype_is(0);
            if (islower(c)) b |= ctype_is(1);
            if (isalpha(c)) b |= ctype_is(2);
            if (isdigit(c)) b |= ctype_is(3);
            if (isdigit(c) || ((c | 32) >= 'a' && (c | 32) <= 'f')) b |= ctype_is(4);
            if (isspace(c)) b |= ctype_is(5);
            if (c >= 32 && c < 127) b |= ctype_is(6);
            if (c > 32 && c < 127) b |= ctype_is(7);
            if (c == ' ' || c == '\t') b |= ctype_is(8);
            if (c < 32 || c == 127) b |= ctype_is(9);
            if (c > 32 && c < 127 && !isalnum(c)) b |= ctype_is(10);
            if (isalnum(c)) b |= ctype_is(11);
        }
        ctype_bits[i] = b;
    }
    ctype_upper_ptr = ctype_upper + 128;
    ctype_lower_ptr = ctype_lower + 128;
    ctype_bits_ptr = ctype_bits + 128;
}
const int **__ctype_toupper_loc(void) { ctype_init(); return &ctype_upper_ptr; }
const int **__ctype_tolower_loc(void) { ctype_init(); return &ctype_lower_ptr; }
const unsigned short **__ctype_b_loc(void) { ctype_init(); return &ctype_bits_ptr; }

long strtol(const char *s, char **end, int base) {
    long v = 0; int neg = 0;
    while (isspace(*s)) s++;
    if (*s == '-' || *s == '+') neg = *s++ == '-';
    if ((base == 0 || base == 16) && s[0] == '0' && (s[1] | 32) == 'x') { s += 2; base = 16; }
    if (base == 0) base = *s == '0' ? 8 : 10;
    for (;; s++) {
        int d = isdigit(*s) ? *s - '0' : isalpha(*s) ? (*s | 32) - 'a' + 10 : 99;
        if (d >= base) break;
        v = v * base + d;
    }
    if (end) *end = (char *)s;
    return neg ? -v : v;
}
int atoi(const char *s) { return (int)strtol(s, 0, 10); }

#if defined(__riscv)
double sqrt(double x) { double r; __asm__("fsqrt.d %0, %1" : "=f"(r) : "f"(x)); return r; }
#else
/* Newton's iteration where the FPU has no double-precision square root. */
double sqrt(double x) {
    if (!(x > 0)) return x == 0 ? x : (x - x) / (x - x);
    double r = x > 1 ? x : 1, last = 0;
    for (int i = 0; i < 2100 && r != last; i++) { last = r; r = 0.5 * (r + x / r); }
    return r;
}
#endif
double fabs(double x) { return x < 0 ? -x : x; }

static void swap_bytes(char *a, char *b, size_t n) {
    while (n--) { char t = *a; *a++ = *b; *b++ = t; }
}
void qsort(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *)) {
    char *b = base;
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && cmp(b + (j - 1) * size, b + j * size) > 0; j--)
            swap_bytes(b + (j - 1) * size, b + j * size, size);
}

/* ---- formatted output ---- */
struct out { char *buf; size_t cap; size_t len; };

static void put(struct out *o, char c) {
    if (o->len + 1 < o->cap) o->buf[o->len] = c;
    o->len++;
}
static void pad(struct out *o, char c, int n) { while (n-- > 0) put(o, c); }

static void emit(struct out *o, const char *s, int n, int width, int left, char padc, int sign_first) {
    int fill = width - n;
    if (sign_first && padc == '0' && n > 0 && (*s == '-' || *s == '+')) { put(o, *s++); n--; }
    if (!left) pad(o, padc, fill);
    while (n-- > 0) put(o, *s++);
    if (left) pad(o, ' ', fill);
}

static int utoa(unsigned long long v, unsigned base, int upper, char *tmp) {
    const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    char rev[32]; int n = 0;
    do { rev[n++] = digits[v % base]; v /= base; } while (v);
    for (int i = 0; i < n; i++) tmp[i] = rev[n - 1 - i];
    return n;
}

static int ftoa(double v, int prec, char *tmp) {
    int n = 0;
    if (v < 0) { tmp[n++] = '-'; v = -v; }
    double scale = 1;
    for (int i = 0; i < prec; i++) scale *= 10;
    unsigned long long whole = (unsigned long long)v;
    unsigned long long frac = (unsigned long long)((v - (double)whole) * scale + 0.5);
    if (frac >= (unsigned long long)scale) { whole++; frac -= (unsigned long long)scale; }
    n += utoa(whole, 10, 0, tmp + n);
    if (prec > 0) {
        tmp[n++] = '.';
        char f[32]; int fl = utoa(frac, 10, 0, f);
        for (int i = fl; i < prec; i++) tmp[n++] = '0';
        for (int i = 0; i < fl; i++) tmp[n++] = f[i];
    }
    return n;
}

int vsnprintf(char *buf, size_t cap, const char *fmt, va_list ap) {
    struct out o = { buf, cap, 0 };
    char tmp[64];
    for (; *fmt; fmt++) {
        if (*fmt != '%') { put(&o, *fmt); continue; }
        fmt++;
        int left = 0, plus = 0, width = 0, prec = -1, lng = 0; char padc = ' ';
        for (;; fmt++) {
            if (*fmt == '-') left = 1;
            else if (*fmt == '0') padc = '0';
            else if (*fmt == '+') plus = 1;
            else if (*fmt == ' ' || *fmt == '#') {}
            else break;
        }
        if (*fmt == '*') { width = va_arg(ap, int); fmt++; }
        while (isdigit(*fmt)) width = width * 10 + (*fmt++ - '0');
        if (*fmt == '.') {
            fmt++; prec = 0;
            if (*fmt == '*') { prec = va_arg(ap, int); fmt++; }
            while (isdigit(*fmt)) prec = prec * 10 + (*fmt++ - '0');
        }
        while (*fmt == 'l' || *fmt == 'z' || *fmt == 'h' || *fmt == 'j' || *fmt == 't') { if (*fmt != 'h') lng++; fmt++; }
        int n = 0;
        switch (*fmt) {
        case 'd': case 'i': {
            long long v = lng > 1 ? va_arg(ap, long long) : lng ? va_arg(ap, long) : va_arg(ap, int);
            if (v < 0) { tmp[n++] = '-'; n += utoa(-(unsigned long long)v, 10, 0, tmp + n); }
            else { if (plus) tmp[n++] = '+'; n += utoa((unsigned long long)v, 10, 0, tmp + n); }
            emit(&o, tmp, n, width, left, padc, 1);
            break;
        }
        case 'u': case 'x': case 'X': case 'o': {
            unsigned long long v = lng > 1 ? va_arg(ap, unsigned long long)
                                 : lng ? va_arg(ap, unsigned long) : va_arg(ap, unsigned);
            n = utoa(v, *fmt == 'u' ? 10 : *fmt == 'o' ? 8 : 16, *fmt == 'X', tmp);
            emit(&o, tmp, n, width, left, padc, 0);
            break;
        }
        case 'p': {
            tmp[0] = '0'; tmp[1] = 'x';
            n = 2 + utoa((unsigned long long)(size_t)va_arg(ap, void *), 16, 0, tmp + 2);
            emit(&o, tmp, n, width, left, ' ', 0);
            break;
        }
        case 'f': case 'F': case 'g': case 'e': {
            n = ftoa(va_arg(ap, double), prec < 0 ? 6 : prec, tmp);
            emit(&o, tmp, n, width, left, padc, 1);
            break;
        }
        case 'c': tmp[0] = (char)va_arg(ap, int); emit(&o, tmp, 1, width, left, ' ', 0); break;
        case 's': {
            const char *s = va_arg(ap, const char *);
            if (!s) s = "(null)";
            int len = prec >= 0 ? (int)strnlen(s, (size_t)prec) : (int)strlen(s);
            emit(&o, s, len, width, left, ' ', 0);
            break;
        }
        case '%': put(&o, '%'); break;
        default: put(&o, '%'); if (*fmt) put(&o, *fmt); else fmt--; break;
        }
    }
    if (cap) buf[o.len < cap ? o.len : cap - 1] = 0;
    return (int)o.len;
}

int snprintf(char *buf, size_t cap, const char *fmt, ...) {
    va_list ap; va_start(ap, fmt);
    int n = vsnprintf(buf, cap, fmt, ap);
    va_end(ap);
    return n;
}
int sprintf(char *buf, const char *fmt, ...) {
    va_list ap; va_start(ap, fmt);
    int n = vsnprintf(buf, (size_t)-1 >> 1, fmt, ap);
    va_end(ap);
    return n;
}
int vprintf(const char *fmt, va_list ap) {
    char buf[512];
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    rt_write(buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
    return n;
}
int printf(const char *fmt, ...) {
    va_list ap; va_start(ap, fmt);
    int n = vprintf(fmt, ap);
    va_end(ap);
    return n;
}
int vfprintf(void *stream, const char *fmt, va_list ap) { (void)stream; return vprintf(fmt, ap); }
int fprintf(void *stream, const char *fmt, ...) {
    va_list ap; va_start(ap, fmt);
    int n = vfprintf(stream, fmt, ap);
    va_end(ap);
    return n;
}
int puts(const char *s) { rt_write(s, strlen(s)); rt_write("\n", 1); return 1; }
int fputs(const char *s, void *stream) { (void)stream; rt_write(s, strlen(s)); return 1; }
int putchar(int c) { char ch = (char)c; rt_write(&ch, 1); return c; }
int fflush(void *stream) { (void)stream; return 0; }
void exit(int status) { rt_exit(status); }
void abort(void) { rt_exit(134); }

#if defined(__arm__)
/* newlib's headers, which arm-none-eabi-gcc compiles against, reach the
 * streams through _impure_ptr (stdout is _impure_ptr->_stdout) and test
 * character classes in _ctype_ (entry c + 1, for EOF too). */
struct reent_streams { int errno_value; void *in, *out, *err; };
static struct reent_streams reent = { 0, (void *)0, (void *)1, (void *)2 };
struct reent_streams *_impure_ptr = &reent;

enum { U = 01, L = 02, N = 04, S = 010, P = 020, C = 040, X = 0100, B = 0200 };
const char _ctype_[1 + 256] = {
    [1 + 0 ... 1 + 31] = C,
    [1 + '\t' ... 1 + '\r'] = C | S,
    [1 + ' '] = S | B,
    [1 + '!' ... 1 + '/'] = P,
    [1 + '0' ... 1 + '9'] = N,
    [1 + ':' ... 1 + '@'] = P,
    [1 + 'A' ... 1 + 'F'] = U | X,
    [1 + 'G' ... 1 + 'Z'] = U,
    [1 + '[' ... 1 + '`'] = P,
    [1 + 'a' ... 1 + 'f'] = L | X,
    [1 + 'g' ... 1 + 'z'] = L,
    [1 + '{' ... 1 + '~'] = P,
    [1 + 127] = C,
};
#endif
