/*
 * The C user's side of dlbench: a plain C program that calls dlopen, dlsym
 * and dlclose exactly as an application does. Built twice at bench time:
 * against the system's <dlfcn.h> and libc (the glibc column), and against
 * libdl/include/dlfcn.h with libmodlib_dl.a linked before libc (this project's C
 * ABI). The benchmark drives it over stdin/stdout, one command per line:
 *
 *   check EXPECTED - PATH  open RTLD_NOW|RTLD_LOCAL; if EXPECTED is not "-",
 *                          bench_touch(3) must return it; then a checksum
 *                          over every relocated slot of the file's RELA and
 *                          JMPREL tables; close; the object must be gone
 *                          from /proc/self/maps. Answers "ok CHECKSUM SLOTS".
 *   cycle N NAMES PATH     N x (open, dlsym of each comma-separated name,
 *                          close). Answers "ok NANOS".
 *   lookups N FILE PATH    open (untimed), N passes of dlsym over every name
 *                          in FILE (one per line), close. Answers "ok NANOS".
 *   preload N - PREFIX     open PREFIX0.so ... PREFIX<N-1>.so with
 *                          RTLD_NOW|RTLD_GLOBAL and keep them open, so that
 *                          later loads bind through a larger global scope.
 *                          Answers "ok".
 *
 * Failures answer "err REASON". DLBENCH_CPU_TIME=1 times thread CPU time.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <elf.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int cpu_time;
/* DLBENCH_DUMP=1: every checksummed slot on stderr, to compare loaders. */
static int dump;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(cpu_time ? CLOCK_THREAD_CPUTIME_ID : CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void fail(const char *what, const char *detail)
{
    printf("err %s: %s\n", what, detail ? detail : "(no message)");
    fflush(stdout);
}

static void *open_now(const char *path)
{
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h)
        fail("dlopen", dlerror());
    return h;
}

/* The whole file, or NULL. */
static unsigned char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *data = n > 0 ? malloc((size_t)n) : NULL;
    if (data && fread(data, 1, (size_t)n, f) != (size_t)n) {
        free(data);
        data = NULL;
    }
    fclose(f);
    *len = (size_t)n;
    return data;
}

/* What the file says about itself: its program headers, dynamic table and
 * dynamic symbols, all bounds-checked against the file. */
struct image {
    unsigned char *data;
    size_t len;
    const Elf64_Phdr *phdr;
    int phnum;
    uint64_t span; /* highest p_vaddr + p_memsz of a PT_LOAD */
};

static const void *at(const struct image *im, uint64_t off, uint64_t size)
{
    if (off > im->len || size > im->len - off)
        return NULL;
    return im->data + off;
}

/* File offset of the virtual address `va` (inside a PT_LOAD's file bytes). */
static int64_t offset_of(const struct image *im, uint64_t va)
{
    for (int i = 0; i < im->phnum; i++) {
        const Elf64_Phdr *p = &im->phdr[i];
        if (p->p_type == PT_LOAD && va >= p->p_vaddr && va - p->p_vaddr < p->p_filesz)
            return (int64_t)(p->p_offset + (va - p->p_vaddr));
    }
    return -1;
}

static int parse(struct image *im)
{
    const Elf64_Ehdr *eh = at(im, 0, sizeof *eh);
    if (!eh || memcmp(eh->e_ident, ELFMAG, SELFMAG) || eh->e_ident[EI_CLASS] != ELFCLASS64)
        return -1;
    im->phnum = eh->e_phnum;
    im->phdr = at(im, eh->e_phoff, (uint64_t)eh->e_phnum * sizeof(Elf64_Phdr));
    if (!im->phdr)
        return -1;
    im->span = 0;
    for (int i = 0; i < im->phnum; i++)
        if (im->phdr[i].p_type == PT_LOAD && im->phdr[i].p_vaddr + im->phdr[i].p_memsz > im->span)
            im->span = im->phdr[i].p_vaddr + im->phdr[i].p_memsz;
    return 0;
}

/* The dynamic entry `tag`, or 0. */
static uint64_t dyn_value(const struct image *im, int64_t tag)
{
    for (int i = 0; i < im->phnum; i++) {
        const Elf64_Phdr *p = &im->phdr[i];
        if (p->p_type != PT_DYNAMIC)
            continue;
        const Elf64_Dyn *d = at(im, p->p_offset, p->p_filesz);
        if (!d)
            return 0;
        for (uint64_t k = 0; k < p->p_filesz / sizeof *d && d[k].d_tag != DT_NULL; k++)
            if (d[k].d_tag == tag)
                return d[k].d_un.d_val;
    }
    return 0;
}

/* The dynamic symbol table and its strings. */
struct symbols {
    const Elf64_Sym *sym;
    uint64_t count;
    const char *str;
    uint64_t strsz;
};

static int symbols_of(const struct image *im, struct symbols *out)
{
    int64_t symoff = offset_of(im, dyn_value(im, DT_SYMTAB));
    int64_t stroff = offset_of(im, dyn_value(im, DT_STRTAB));
    out->strsz = dyn_value(im, DT_STRSZ);
    if (symoff < 0 || stroff < 0 || !at(im, (uint64_t)stroff, out->strsz))
        return -1;
    /* Symbols run up to the string table in every linker's layout. */
    out->count = stroff > symoff ? (uint64_t)(stroff - symoff) / sizeof(Elf64_Sym) : 0;
    out->sym = at(im, (uint64_t)symoff, out->count * sizeof(Elf64_Sym));
    out->str = (const char *)im->data + stroff;
    return out->sym ? 0 : -1;
}

/* The name of symbol `i`, or NULL. */
static const char *name_of(const struct symbols *t, uint64_t i)
{
    if (i >= t->count || t->sym[i].st_name >= t->strsz)
        return NULL;
    const char *name = t->str + t->sym[i].st_name;
    return memchr(name, 0, t->strsz - t->sym[i].st_name) ? name : NULL;
}

/* The run-time base of the open object `h`: a defined, ordinary dynamic
 * symbol's address from dlsym minus its value in the file. */
static uintptr_t base_of(const struct symbols *t, void *h)
{
    for (uint64_t i = 1; i < t->count; i++) {
        const Elf64_Sym *s = &t->sym[i];
        int type = ELF64_ST_TYPE(s->st_info);
        const char *name = name_of(t, i);
        if (!name || s->st_shndx == SHN_UNDEF || s->st_value == 0 ||
            (type != STT_FUNC && type != STT_OBJECT) || ELF64_ST_BIND(s->st_info) != STB_GLOBAL)
            continue;
        void *p = dlsym(h, name);
        if (p)
            return (uintptr_t)p - s->st_value;
    }
    return 0;
}

/* Names the dynamic loader itself answers: each loader binds them to its
 * own implementation, so the checksum records the name, not the address. */
static int loader_name(const char *name)
{
    static const char *const names[] = {
        "dlopen", "dlsym", "dlvsym", "dlclose", "dlerror", "dladdr", "dladdr1", "dlinfo",
        "dl_iterate_phdr", "__tls_get_addr", "_dl_find_object", NULL,
    };
    for (int i = 0; name && names[i]; i++)
        if (!strcmp(name, names[i]))
            return 1;
    return 0;
}

/* Where the program itself (this driver) is loaded. */
static void *program_base(void)
{
    static void *base;
    Dl_info info;
    if (!base && dladdr((void *)&program_base, &info))
        base = info.dli_fbase;
    return base;
}

static uint64_t fnv(uint64_t hash, const void *bytes, size_t n)
{
    const unsigned char *b = bytes;
    for (size_t i = 0; i < n; i++)
        hash = (hash ^ b[i]) * 0x100000001b3ull;
    return hash;
}

static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

/* A checksum over the value of every slot the RELA and JMPREL tables
 * relocate (RELATIVE, 64, GLOB_DAT, JUMP_SLOT), each value written as
 * "which object, what offset in it" so that two loaders that place objects
 * at different addresses but bind alike agree. Returns the slot count, or
 * -1 with `why` set. */
static long checksum(const struct image *im, void *h, uint64_t *sum, const char **why)
{
    struct symbols t;
    if (symbols_of(im, &t)) {
        *why = "no dynamic symbol table";
        return -1;
    }
    uintptr_t base = base_of(&t, h);
    if (!base) {
        *why = "no defined symbol to find the load address";
        return -1;
    }
    uint64_t tables[2][2] = {
        {dyn_value(im, DT_RELA), dyn_value(im, DT_RELASZ)},
        {dyn_value(im, DT_JMPREL), dyn_value(im, DT_PLTRELSZ)},
    };
    long slots = 0;
    *sum = 0xcbf29ce484222325ull;
    for (int n = 0; n < 2; n++) {
        if (!tables[n][1])
            continue;
        int64_t off = offset_of(im, tables[n][0]);
        const Elf64_Rela *r = off < 0 ? NULL : at(im, (uint64_t)off, tables[n][1]);
        if (!r) {
            *why = "relocation table outside the file";
            return -1;
        }
        for (uint64_t k = 0; k < tables[n][1] / sizeof *r; k++) {
            uint32_t type = ELF64_R_TYPE(r[k].r_info);
            if (type != R_X86_64_RELATIVE && type != R_X86_64_64 && type != R_X86_64_GLOB_DAT &&
                type != R_X86_64_JUMP_SLOT)
                continue;
            if (r[k].r_offset + 8 > im->span) {
                *why = "relocation outside the object";
                return -1;
            }
            uint64_t value;
            memcpy(&value, (const void *)(base + r[k].r_offset), sizeof value);
            Dl_info info;
            uint64_t where = value;
            const char *object = "";
            const char *symbol = name_of(&t, ELF64_R_SYM(r[k].r_info));
            if (type != R_X86_64_RELATIVE && loader_name(symbol)) {
                where = 0;
                object = symbol;
            } else if (value >= base && value - base < im->span) {
                where = value - base;
                object = "self";
            } else if (value && dladdr((void *)(uintptr_t)value, &info) && info.dli_fname) {
                where = value - (uint64_t)(uintptr_t)info.dli_fbase;
                object = base_name(info.dli_fname);
                if (info.dli_fbase == program_base()) {
                    /* The two drivers are different programs: what they
                     * define is named by symbol, not by offset. */
                    object = info.dli_sname ? info.dli_sname : "program";
                    where = info.dli_sname ? value - (uint64_t)(uintptr_t)info.dli_saddr : 0;
                }
            }
            if (dump)
                fprintf(stderr, "%#lx %u %s+%#lx\n", (unsigned long)r[k].r_offset, type, object,
                        (unsigned long)where);
            *sum = fnv(*sum, &r[k].r_offset, sizeof r[k].r_offset);
            *sum = fnv(*sum, object, strlen(object));
            *sum = fnv(*sum, &where, sizeof where);
            slots++;
        }
    }
    return slots;
}

/* The files /proc/self/maps names, one per line (each once), or NULL. */
static char *mapped_files(void)
{
    FILE *f = fopen("/proc/self/maps", "r");
    char line[4096];
    size_t len = 0, cap = 1 << 16;
    char *files = malloc(cap);
    if (!f || !files) {
        if (f)
            fclose(f);
        free(files);
        return NULL;
    }
    files[0] = 0;
    while (fgets(line, sizeof line, f)) {
        char *path = strchr(line, '/');
        if (!path || strstr(files, path))
            continue;
        size_t n = strlen(path);
        if (len + n + 1 > cap && !(files = realloc(files, cap = 2 * (len + n + 1))))
            break;
        memcpy(files + len, path, n + 1);
        len += n;
    }
    fclose(f);
    return files;
}

/* What dlclose left behind: a range covering `address` (the object's own
 * memory), or a file mapped now that `before` did not list (a dependency
 * the open brought in). Returns a description, or NULL if nothing. */
static const char *left_mapped(const char *before, uintptr_t address)
{
    static char what[4096];
    FILE *f = fopen("/proc/self/maps", "r");
    char line[4096];
    const char *found = NULL;
    while (f && !found && fgets(line, sizeof line, f)) {
        unsigned long lo, hi;
        char *path = strchr(line, '/');
        if (sscanf(line, "%lx-%lx", &lo, &hi) == 2 && address >= lo && address < hi)
            found = "the object's own memory";
        else if (path && before && !strstr(before, path)) {
            path[strcspn(path, "\n")] = 0;
            snprintf(what, sizeof what, "%s (a dependency)", path);
            found = what;
        }
    }
    if (f)
        fclose(f);
    return found;
}

static void check(const char *expected, const char *path)
{
    struct image im = {0};
    im.data = slurp(path, &im.len);
    if (!im.data || parse(&im)) {
        fail(path, "not a readable ELF64 file");
        free(im.data);
        return;
    }
    char *before = mapped_files();
    void *h = open_now(path);
    if (!h) {
        free(im.data);
        free(before);
        return;
    }
    if (strcmp(expected, "-")) {
        int (*touch)(int) = (int (*)(int))dlsym(h, "bench_touch");
        int got = touch ? touch(3) : -1;
        if (got != atoi(expected)) {
            char msg[64];
            snprintf(msg, sizeof msg, "returned %d, expected %s", got, expected);
            fail("bench_touch(3)", msg);
            dlclose(h);
            free(im.data);
            free(before);
            return;
        }
    }
    uint64_t sum = 0;
    const char *why = NULL;
    long slots = checksum(&im, h, &sum, &why);
    struct symbols t;
    uintptr_t base = symbols_of(&im, &t) ? 0 : base_of(&t, h);
    free(im.data);
    int failed = slots < 0;
    const char *left;
    if (failed)
        fail("checksum", why);
    if (dlclose(h)) {
        if (!failed)
            fail("dlclose", dlerror());
        failed = 1;
    } else if (!failed && (left = left_mapped(before, base))) {
        fail("still mapped after dlclose", left);
        failed = 1;
    }
    free(before);
    if (failed)
        return;
    printf("ok %016llx %ld\n", (unsigned long long)sum, slots);
    fflush(stdout);
}

static void cycle(long n, char *names, const char *path)
{
    const char *list[64];
    int count = 0;
    for (char *p = strtok(names, ","); p && count < 64; p = strtok(NULL, ","))
        list[count++] = p;
    uint64_t start = now_ns();
    for (long i = 0; i < n; i++) {
        void *h = open_now(path);
        if (!h)
            return;
        for (int k = 0; k < count; k++) {
            void *volatile p = dlsym(h, list[k]);
            if (!p) {
                fail(list[k], dlerror());
                dlclose(h);
                return;
            }
        }
        if (dlclose(h)) {
            fail("dlclose", dlerror());
            return;
        }
    }
    printf("ok %llu\n", (unsigned long long)(now_ns() - start));
    fflush(stdout);
}

static void lookups(long passes, const char *file, const char *path)
{
    size_t len = 0;
    char *text = (char *)slurp(file, &len);
    if (!text) {
        fail(file, "cannot read");
        return;
    }
    char *copy = malloc(len + 1);
    memcpy(copy, text, len);
    copy[len] = 0;
    free(text);
    size_t count = 0, cap = 1024;
    char **names = malloc(cap * sizeof *names);
    for (char *p = strtok(copy, "\n"); p; p = strtok(NULL, "\n")) {
        if (count == cap)
            names = realloc(names, (cap *= 2) * sizeof *names);
        names[count++] = p;
    }
    void *h = open_now(path);
    if (h) {
        uint64_t start = now_ns();
        int ok = 1;
        for (long i = 0; i < passes && ok; i++)
            for (size_t k = 0; k < count && ok; k++) {
                void *volatile p = dlsym(h, names[k]);
                if (!p) {
                    fail(names[k], dlerror());
                    ok = 0;
                }
            }
        uint64_t elapsed = now_ns() - start;
        if (ok) {
            printf("ok %llu\n", (unsigned long long)elapsed);
            fflush(stdout);
        }
        dlclose(h);
    }
    free(names);
    free(copy);
}

static void preload(long n, const char *prefix)
{
    char path[4096];
    for (long k = 0; k < n; k++) {
        snprintf(path, sizeof path, "%s%ld.so", prefix, k);
        if (!dlopen(path, RTLD_NOW | RTLD_GLOBAL)) {
            fail("preload", dlerror());
            return;
        }
    }
    printf("ok\n");
    fflush(stdout);
}

int main(void)
{
    const char *cpu = getenv("DLBENCH_CPU_TIME");
    cpu_time = cpu && !strcmp(cpu, "1");
    const char *slots = getenv("DLBENCH_DUMP");
    dump = slots && !strcmp(slots, "1");
    static char line[1 << 16];
    while (fgets(line, sizeof line, stdin)) {
        line[strcspn(line, "\n")] = 0;
        char *command = strtok(line, " ");
        char *a = strtok(NULL, " ");
        char *b = strtok(NULL, " ");
        char *path = strtok(NULL, "");
        if (!command || !a || !b || !path)
            fail("usage", line);
        else if (!strcmp(command, "check"))
            check(a, path);
        else if (!strcmp(command, "cycle"))
            cycle(atol(a), b, path);
        else if (!strcmp(command, "lookups"))
            lookups(atol(a), b, path);
        else if (!strcmp(command, "preload"))
            preload(atol(a), path);
        else
            fail("unknown command", command);
    }
    return 0;
}
