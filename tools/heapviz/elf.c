/* Just enough ELF for heapviz: a symbol's value in a file (to find
 * pmalloc_layout without debug information) and a core dump's memory
 * segments and file mappings. */
#include "source.h"

#include <elf.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void *load(int fd, uint64_t off, uint64_t len, uint64_t file_size)
{
    if (off > file_size || len > file_size - off || len > ((uint64_t)1 << 31))
        return NULL;
    void *p = malloc(len ? len : 1);
    if (p && pread(fd, p, len, (off_t)off) != (ssize_t)len) {
        free(p);
        return NULL;
    }
    return p;
}

static int find_in_table(int fd, uint64_t size, const Elf64_Shdr *sh, const Elf64_Shdr *strsh, const char *name,
                         uint64_t *value)
{
    if (sh->sh_entsize != sizeof(Elf64_Sym))
        return -1;
    Elf64_Sym *syms = load(fd, sh->sh_offset, sh->sh_size, size);
    char *str = load(fd, strsh->sh_offset, strsh->sh_size, size);
    int rc = -1;
    size_t n = syms ? sh->sh_size / sizeof(Elf64_Sym) : 0;
    for (size_t i = 0; str && i < n; i++) {
        if (syms[i].st_name >= strsh->sh_size || syms[i].st_shndx == SHN_UNDEF)
            continue;
        const char *s = str + syms[i].st_name;
        if (strnlen(s, strsh->sh_size - syms[i].st_name) < strsh->sh_size - syms[i].st_name &&
            strcmp(s, name) == 0) {
            *value = syms[i].st_value;
            rc = 0;
            break;
        }
    }
    free(syms);
    free(str);
    return rc;
}

int elf_symbol(const char *path, const char *name, uint64_t *value, int *is_dyn, uint64_t *first_vaddr)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    struct stat st;
    Elf64_Ehdr eh;
    int rc = -1;
    if (fstat(fd, &st) != 0 || pread(fd, &eh, sizeof eh, 0) != (ssize_t)sizeof eh ||
        memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 || eh.e_ident[EI_CLASS] != ELFCLASS64 ||
        eh.e_shentsize != sizeof(Elf64_Shdr) || eh.e_phentsize != sizeof(Elf64_Phdr)) {
        close(fd);
        return -1;
    }
    uint64_t size = (uint64_t)st.st_size;
    Elf64_Shdr *sh = load(fd, eh.e_shoff, (uint64_t)eh.e_shnum * sizeof *sh, size);
    Elf64_Phdr *ph = load(fd, eh.e_phoff, (uint64_t)eh.e_phnum * sizeof *ph, size);
    if (sh && ph) {
        *is_dyn = eh.e_type == ET_DYN;
        /* The kernel maps the first segment from the start of its page:
         * the page of this kernel, the one a live process runs on. */
        uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
        *first_vaddr = UINT64_MAX;
        for (unsigned i = 0; i < eh.e_phnum; i++)
            if (ph[i].p_type == PT_LOAD && ph[i].p_vaddr < *first_vaddr)
                *first_vaddr = ph[i].p_vaddr & ~(page - 1);
        /* dynamic symbols first: present even in a stripped library */
        for (int pass = 0; pass < 2 && rc != 0; pass++) {
            unsigned want = pass == 0 ? SHT_DYNSYM : SHT_SYMTAB;
            for (unsigned i = 0; i < eh.e_shnum && rc != 0; i++)
                if (sh[i].sh_type == want && sh[i].sh_link < eh.e_shnum)
                    rc = find_in_table(fd, size, &sh[i], &sh[sh[i].sh_link], name, value);
        }
    }
    free(sh);
    free(ph);
    close(fd);
    return rc;
}

/* ---- core dumps ---- */

static void parse_nt_file(struct core_info *ci, const unsigned char *desc, uint64_t descsz)
{
    if (descsz < 16)
        return;
    uint64_t count, page;
    memcpy(&count, desc, 8);
    memcpy(&page, desc + 8, 8);
    if (count > descsz / 24)
        return;
    const char *names = (const char *)desc + 16 + count * 24, *end = (const char *)desc + descsz;
    ci->files = calloc(count ? count : 1, sizeof *ci->files);
    if (ci->files == NULL)
        return;
    for (uint64_t i = 0; i < count && names < end; i++) {
        uint64_t v[3];
        memcpy(v, desc + 16 + i * 24, sizeof v);
        size_t len = strnlen(names, (size_t)(end - names));
        ci->files[i].start = v[0];
        ci->files[i].end = v[1];
        ci->files[i].pgoff = v[2] * page;
        ci->files[i].path = strndup(names, len);
        ci->nfiles++;
        names += len + 1;
    }
}

int core_open(const char *path, struct core_info *ci, char *err, size_t errlen)
{
    memset(ci, 0, sizeof *ci);
    ci->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (ci->fd < 0) {
        snprintf(err, errlen, "cannot open core file %s: %m", path);
        return -1;
    }
    struct stat st;
    Elf64_Ehdr eh;
    if (fstat(ci->fd, &st) != 0 || pread(ci->fd, &eh, sizeof eh, 0) != (ssize_t)sizeof eh ||
        memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 || eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_type != ET_CORE ||
        eh.e_phentsize != sizeof(Elf64_Phdr)) {
        snprintf(err, errlen, "%s is not a 64-bit ELF core file", path);
        close(ci->fd);
        return -1;
    }
    uint64_t size = (uint64_t)st.st_size;
    Elf64_Phdr *ph = load(ci->fd, eh.e_phoff, (uint64_t)eh.e_phnum * sizeof *ph, size);
    ci->segs = calloc(eh.e_phnum ? eh.e_phnum : 1, sizeof *ci->segs);
    if (ph == NULL || ci->segs == NULL) {
        snprintf(err, errlen, "%s: cannot read its program headers (truncated core?)", path);
        free(ph);
        core_close(ci);
        return -1;
    }
    for (unsigned i = 0; i < eh.e_phnum; i++) {
        if (ph[i].p_type == PT_LOAD) {
            struct core_seg *s = &ci->segs[ci->nsegs++];
            s->vaddr = ph[i].p_vaddr;
            s->memsz = ph[i].p_memsz;
            s->offset = ph[i].p_offset;
            /* a truncated core holds less than it says */
            s->filesz = ph[i].p_offset >= size ? 0 : ph[i].p_filesz;
            if (s->filesz > size - (ph[i].p_offset < size ? ph[i].p_offset : size))
                s->filesz = size - ph[i].p_offset;
        } else if (ph[i].p_type == PT_NOTE) {
            unsigned char *notes = load(ci->fd, ph[i].p_offset, ph[i].p_filesz, size);
            for (uint64_t off = 0; notes && off + 12 <= ph[i].p_filesz;) {
                Elf64_Nhdr nh;
                memcpy(&nh, notes + off, sizeof nh);
                uint64_t name_at = off + 12, desc_at = name_at + ((nh.n_namesz + 3) & ~3u);
                uint64_t next = desc_at + ((nh.n_descsz + 3) & ~3u);
                if (next > ph[i].p_filesz)
                    break;
                if (nh.n_type == NT_FILE && ci->files == NULL)
                    parse_nt_file(ci, notes + desc_at, nh.n_descsz);
                else if (nh.n_type == NT_PRPSINFO && nh.n_descsz >= 32 && ci->pid == 0) {
                    int32_t pid;
                    memcpy(&pid, notes + desc_at + 24, 4); /* pr_pid after state, flags, uid, gid */
                    ci->pid = pid;
                }
                off = next;
            }
            free(notes);
        }
    }
    free(ph);
    return 0;
}

void core_close(struct core_info *ci)
{
    if (ci->fd >= 0)
        close(ci->fd);
    for (size_t i = 0; i < ci->nfiles; i++)
        free(ci->files[i].path);
    free(ci->files);
    free(ci->segs);
    memset(ci, 0, sizeof *ci);
    ci->fd = -1;
}

int core_read(struct core_info *ci, uint64_t addr, void *dst, size_t len)
{
    unsigned char *out = dst;
    while (len > 0) {
        const struct core_seg *s = NULL;
        for (size_t i = 0; i < ci->nsegs; i++)
            if (addr >= ci->segs[i].vaddr && addr - ci->segs[i].vaddr < ci->segs[i].memsz) {
                s = &ci->segs[i];
                break;
            }
        if (s == NULL)
            return -1;
        uint64_t in = addr - s->vaddr, take = s->memsz - in;
        if (take > len)
            take = len;
        /* pages the kernel left out of the dump cannot be read */
        if (in + take > s->filesz)
            return -1;
        if (pread(ci->fd, out, take, (off_t)(s->offset + in)) != (ssize_t)take)
            return -1;
        out += take;
        addr += take;
        len -= take;
    }
    return 0;
}
