/* Symbolisation for heapviz sites: each module's function symbols
 * (.symtab when the file has one, else .dynsym), sorted, and its PT_LOAD
 * segments to turn an address into the file's own addresses. */
#include "symbols.h"

#include <elf.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct sym {
    uint64_t lo, hi;
    const char *name;
};

struct module {
    uint64_t start, end, offset;
    const char *path;
    bool loaded, usable;
    Elf64_Phdr *loads;
    size_t nloads;
    struct sym *syms;
    size_t nsyms;
    char *strings;
};

struct symbolizer {
    struct module *mods;
    size_t nmods;
};

static void *read_at(int fd, uint64_t off, uint64_t len)
{
    if (len == 0 || len > ((uint64_t)1 << 31))
        return NULL;
    char *p = malloc(len);
    if (p == NULL)
        return NULL;
    if (pread(fd, p, len, (off_t)off) != (ssize_t)len) {
        free(p);
        return NULL;
    }
    return p;
}

static int by_lo(const void *a, const void *b)
{
    const struct sym *x = a, *y = b;
    return x->lo < y->lo ? -1 : x->lo > y->lo;
}

/* Function symbols of one table; its strings are kept for the names. */
static void read_table(struct module *m, int fd, const Elf64_Shdr *sh, const Elf64_Shdr *strsh)
{
    Elf64_Sym *tab = read_at(fd, sh->sh_offset, sh->sh_size);
    char *str = read_at(fd, strsh->sh_offset, strsh->sh_size);
    if (tab == NULL || str == NULL) {
        free(tab);
        free(str);
        return;
    }
    size_t n = sh->sh_size / sizeof *tab;
    m->syms = calloc(n ? n : 1, sizeof *m->syms);
    for (size_t i = 0; m->syms && i < n; i++) {
        if (ELF64_ST_TYPE(tab[i].st_info) != STT_FUNC || tab[i].st_value == 0 || tab[i].st_name >= strsh->sh_size)
            continue;
        struct sym *s = &m->syms[m->nsyms++];
        s->lo = tab[i].st_value;
        s->hi = tab[i].st_value + (tab[i].st_size ? tab[i].st_size : 1);
        s->name = str + tab[i].st_name;
    }
    free(tab);
    m->strings = str;
    if (m->syms)
        qsort(m->syms, m->nsyms, sizeof *m->syms, by_lo);
}

static void load_module(struct module *m)
{
    m->loaded = true;
    int fd = open(m->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    Elf64_Ehdr eh;
    if (pread(fd, &eh, sizeof eh, 0) != (ssize_t)sizeof eh || memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 ||
        eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_phentsize != sizeof(Elf64_Phdr) ||
        eh.e_shentsize != sizeof(Elf64_Shdr)) {
        close(fd);
        return;
    }
    Elf64_Phdr *ph = read_at(fd, eh.e_phoff, (uint64_t)eh.e_phnum * sizeof *ph);
    Elf64_Shdr *sh = read_at(fd, eh.e_shoff, (uint64_t)eh.e_shnum * sizeof *sh);
    if (ph != NULL) {
        m->loads = ph;
        m->nloads = eh.e_phnum;
        m->usable = true;
    }
    for (int pass = 0; sh != NULL && pass < 2 && m->nsyms == 0; pass++) {
        uint32_t want = pass == 0 ? SHT_SYMTAB : SHT_DYNSYM;
        for (unsigned i = 0; i < eh.e_shnum; i++)
            if (sh[i].sh_type == want && sh[i].sh_link < eh.e_shnum) {
                free(m->syms);
                free(m->strings);
                m->syms = NULL;
                m->strings = NULL;
                m->nsyms = 0;
                read_table(m, fd, &sh[i], &sh[sh[i].sh_link]);
                break;
            }
    }
    free(sh);
    close(fd);
}

struct symbolizer *sym_open(const struct jval *snap)
{
    struct symbolizer *s = calloc(1, sizeof *s);
    const struct jval *mods = jget(snap, "modules");
    if (s == NULL)
        return NULL;
    s->mods = calloc(jlen(mods) ? jlen(mods) : 1, sizeof *s->mods);
    for (size_t i = 0; s->mods && i < jlen(mods); i++) {
        const struct jval *m = jat(mods, i);
        struct module *d = &s->mods[s->nmods++];
        d->start = jget_addr(m, "start");
        d->end = jget_addr(m, "end");
        d->offset = jget_addr(m, "offset");
        d->path = jget_str(m, "path");
    }
    return s;
}

void sym_close(struct symbolizer *s)
{
    if (s == NULL)
        return;
    for (size_t i = 0; s->mods && i < s->nmods; i++) {
        free(s->mods[i].loads);
        free(s->mods[i].syms);
        free(s->mods[i].strings);
    }
    free(s->mods);
    free(s);
}

static const char *base_name(const char *p)
{
    const char *slash = strrchr(p, '/');
    return slash ? slash + 1 : p;
}

void sym_name(struct symbolizer *s, uint64_t addr, int with_offset, char *out, size_t len)
{
    /* a return address points after its call: look the call up */
    uint64_t at = addr ? addr - 1 : 0;
    for (size_t i = 0; s && i < s->nmods; i++) {
        struct module *m = &s->mods[i];
        if (at < m->start || at >= m->end)
            continue;
        uint64_t file_off = at - m->start + m->offset;
        if (!m->loaded)
            load_module(m);
        for (size_t k = 0; m->usable && k < m->nloads; k++) {
            const Elf64_Phdr *p = &m->loads[k];
            if (p->p_type != PT_LOAD || file_off < p->p_offset || file_off >= p->p_offset + p->p_filesz)
                continue;
            uint64_t v = file_off - p->p_offset + p->p_vaddr;
            size_t lo = 0, hi = m->nsyms;
            while (lo < hi) {
                size_t mid = (lo + hi) / 2;
                if (m->syms[mid].lo <= v)
                    lo = mid + 1;
                else
                    hi = mid;
            }
            /* the last symbol starting at or below v, if v is inside it */
            if (lo > 0 && v < m->syms[lo - 1].hi) {
                const struct sym *f = &m->syms[lo - 1];
                if (with_offset)
                    snprintf(out, len, "%s+0x%llx", f->name, (unsigned long long)(v + 1 - f->lo));
                else
                    snprintf(out, len, "%s", f->name);
                return;
            }
        }
        snprintf(out, len, "%s+0x%llx", base_name(m->path), (unsigned long long)(file_off + 1));
        return;
    }
    snprintf(out, len, "0x%llx", (unsigned long long)addr);
}
