/* M_PERTURB (facts §8): new blocks are filled with b ^ 0xff, freed user
 * areas with b; calloc still returns zeros. */
#include "../helpers.h"

#define B 0x5a
#define NB (B ^ 0xff)

int main(void)
{
    no_tcache();
    REQUIRE(mallopt(M_MMAP_THRESHOLD, 256 * 1024) == 1);
    REQUIRE(mallopt(M_PERTURB, B) == 1);
    CHECK(pm_opt.perturb_byte == B);

    /* fresh blocks of every kind: fast, small, large, top, mmapped */
    static const size_t sizes[] = {1, 24, 100, 300, 1000, 2000, 5000, 70000, 400000};
    void *v[9];
    for (int i = 0; i < 9; i++) {
        v[i] = malloc(sizes[i]);
        REQUIRE(v[i]);
        if (!all_bytes(v[i], sizes[i], NB))
            fprintf(stderr, "malloc(%zu) not filled with 0x%02x\n", sizes[i], NB);
        CHECK(all_bytes(v[i], sizes[i], NB));
    }
    CHECK(chunk_is_mmapped(hdr(v[8])));
    CHECK_HEAP();

    /* freed user areas: everything past the free-list links (the first
     * 32 bytes; 16 for small chunks) up to the end of the chunk's own
     * space holds B.  The guard after each block keeps it out of top. */
    static const size_t fsizes[] = {300, 1000, 2000, 5000, 70000};
    for (int i = 0; i < 5; i++) {
        size_t n = fsizes[i];
        unsigned char *p = malloc(n);
        void *g = malloc(300);
        REQUIRE(p && g);
        memset(p, 0x11, n);
        size_t sz = csize(p);
        free(p);
        CHECK(!chunk_inuse(hdr(p)));
        /* the user area ends at the next chunk's prev_size (the footer) */
        size_t from = 32, to = sz - 16;
        if (!all_bytes(p + from, to - from, B))
            fprintf(stderr, "free of %zu: freed area not filled with 0x%02x\n", n, B);
        CHECK(all_bytes(p + from, to - from, B));
        CHECK_HEAP();
        /* taken again: the fill for a new block comes back */
        unsigned char *q = malloc(n);
        REQUIRE(q);
        CHECK(q == p);
        CHECK(all_bytes(q, n, NB));
        /* calloc of the same chunk is zero */
        free(q);
        unsigned char *z = calloc(1, n);
        REQUIRE(z);
        CHECK(all_bytes(z, n, 0));
        free(z);
        free(g);
        CHECK_HEAP();
    }

    /* fast chunks are filled on free too */
    unsigned char *f = malloc(100);
    void *fg = malloc(100);
    REQUIRE(f && fg);
    memset(f, 0x22, 100);
    free(f);
    CHECK(chunk_in_fastbin(MAIN, fastbin_index(csize(f)), hdr(f)));
    CHECK(all_bytes(f + 16, csize(f) - 16 - 16, B));  /* after the fd word */
    free(fg);

    /* calloc stays zero for mmapped blocks and for memory from top */
    unsigned char *cz = calloc(1, 400000);
    REQUIRE(cz && chunk_is_mmapped(hdr(cz)));
    CHECK(all_bytes(cz, 400000, 0));
    free(cz);
    cz = calloc(100, 100);
    REQUIRE(cz);
    CHECK(all_bytes(cz, 10000, 0));
    free(cz);

    /* the aligned allocators fill as well */
    unsigned char *a = memalign(256, 3000);
    REQUIRE(a);
    CHECK(all_bytes(a, 3000, NB));
    free(a);

    /* realloc moving a block keeps the contents, not the fill */
    unsigned char *r = malloc(200);
    void *rg = malloc(200);
    REQUIRE(r && rg);
    memset(r, 0x33, 200);
    unsigned char *r2 = realloc(r, 8000);
    REQUIRE(r2);
    CHECK(all_bytes(r2, 200, 0x33));
    free(r2);
    free(rg);

    for (int i = 0; i < 9; i++)
        free(v[i]);
    CHECK_HEAP();

    /* turned off again: no fill */
    REQUIRE(mallopt(M_PERTURB, 0) == 1);
    unsigned char *o = malloc(3000);
    void *og = malloc(300);
    REQUIRE(o && og);
    memset(o, 0x44, 3000);
    free(o);
    /* past the free chunk's list links and its pages-returned word */
    CHECK(all_bytes(o + 40, 3000 - 72, 0x44));
    free(og);
    CHECK_HEAP();
    return test_finish("test_perturb");
}
