/* The map of live sub-heaps covers every address Linux can give a
 * process, not only the 47 bits of x86-64's default: a sub-heap the
 * kernel maps higher (arm64 maps near 2^48, 5-level page tables up to
 * 2^57) must be known at free, not refused as an invalid pointer.
 *
 * Where the kernel maps memory above 2^47 when asked, a thread arena's
 * sub-heap is made there and used.  Where it does not (4-level page
 * tables), nothing can be mapped there, so the map itself is tested with
 * addresses above 2^47: marking and clearing slots, no slot aliasing
 * another, leaves made by racing threads, a leaf that cannot be made. */
#include "../helpers.h"

#include <pthread.h>
#include <sys/mman.h>

#define SLOT ((uintptr_t)64 * 1024 * 1024)
#define BIT(n) ((uintptr_t)1 << (n))

static const void *at(uintptr_t a) { return (const void *)a; }

static void check_slot(uintptr_t base)
{
    CHECK(!pm_subheap_known(at(base)));
    CHECK(pm_subheap_mark(at(base), true));
    CHECK(pm_subheap_known(at(base)));
    CHECK(pm_subheap_known(at(base + SLOT - 1)));
    CHECK(pm_subheap_known(at(base + 12345)));
    /* neighbours and the same slot of other leaves stay unknown */
    CHECK(!pm_subheap_known(at(base + SLOT)));
    CHECK(!pm_subheap_known(at(base - 1)));
    CHECK(!pm_subheap_known(at(base ^ BIT(47))));
    CHECK(!pm_subheap_known(at(base ^ BIT(50))));
    CHECK(!pm_subheap_known(at(base ^ BIT(56))));
    if (base >= BIT(47))
        CHECK(!pm_subheap_known(at(base & (BIT(47) - 1)))); /* the old map's alias */
    CHECK(pm_subheap_mark(at(base), false));
    CHECK(!pm_subheap_known(at(base)));
    CHECK(!pm_subheap_known(at(base + SLOT - 1)));
}

static void test_high_slots(void)
{
    static const uintptr_t bases[] = {
        BIT(47),                       /* the first slot the old map refused */
        BIT(47) + 5 * SLOT,
        BIT(48) - SLOT,                /* the top of arm64's 48-bit space */
        BIT(48) - 3 * SLOT,
        BIT(52) + 7 * SLOT,            /* arm64 with 52-bit addresses */
        BIT(56) + SLOT,                /* 5-level page tables */
        BIT(57) - SLOT,                /* the last slot Linux can map */
        BIT(40) + 9 * SLOT,            /* and below 2^47, as before */
    };
    for (size_t i = 0; i < sizeof bases / sizeof bases[0]; i++)
        check_slot(bases[i]);
    /* two live slots in one leaf, and in different leaves, at once */
    CHECK(pm_subheap_mark(at(BIT(48) - SLOT), true));
    CHECK(pm_subheap_mark(at(BIT(48) - 2 * SLOT), true));
    CHECK(pm_subheap_mark(at(BIT(52) + 7 * SLOT), true));
    CHECK(pm_subheap_known(at(BIT(48) - SLOT)) && pm_subheap_known(at(BIT(48) - 2 * SLOT)));
    CHECK(pm_subheap_known(at(BIT(52) + 7 * SLOT)));
    CHECK(pm_subheap_mark(at(BIT(48) - SLOT), false));
    CHECK(!pm_subheap_known(at(BIT(48) - SLOT)) && pm_subheap_known(at(BIT(48) - 2 * SLOT)));
    CHECK(pm_subheap_mark(at(BIT(48) - 2 * SLOT), false));
    CHECK(pm_subheap_mark(at(BIT(52) + 7 * SLOT), false));
}

/* No Linux maps user memory at or above 2^57: such a slot is never
 * known and cannot be marked, and no value of a pointer crashes. */
static void test_beyond_the_map(void)
{
    static const uintptr_t bad[] = {BIT(57), BIT(57) + SLOT, BIT(62), BIT(63), UINTPTR_MAX, UINTPTR_MAX - SLOT};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK(!pm_subheap_known(at(bad[i])));
        CHECK(!pm_subheap_mark(at(bad[i]), true));
        CHECK(!pm_subheap_known(at(bad[i])));
        CHECK(pm_subheap_mark(at(bad[i]), false)); /* nothing to clear */
    }
    /* an unmarked slot in a leaf never made reads as unknown */
    CHECK(!pm_subheap_known(at(BIT(55) + 11 * SLOT)));
}

/* A leaf that cannot be mapped: marking fails, and works once memory
 * comes back. */
static void test_leaf_without_memory(void)
{
    uintptr_t base = BIT(54) + 3 * SLOT; /* a leaf nothing made yet */
    pm_os_fault(PM_OS_MMAP, 0, -1);
    CHECK(!pm_subheap_mark(at(base), true));
    pm_os_fault_clear();
    CHECK(!pm_subheap_known(at(base)));
    CHECK(pm_subheap_mark(at(base), true));
    CHECK(pm_subheap_known(at(base)));
    CHECK(pm_subheap_mark(at(base), false));
}

/* Threads marking slots of one fresh leaf at once: whoever installs the
 * leaf, no mark is lost. */
enum { RACERS = 4, PER_RACER = 64 };
static int start_flag;

static uintptr_t race_slot(uintptr_t t, uintptr_t i) { return BIT(53) + (i * RACERS + t) * SLOT; }

static void *racer(void *arg)
{
    uintptr_t t = (uintptr_t)arg, failed = 0;
    while (!__atomic_load_n(&start_flag, __ATOMIC_ACQUIRE))
        ;
    for (uintptr_t i = 0; i < PER_RACER; i++)
        failed += !pm_subheap_mark(at(race_slot(t, i)), true);
    return (void *)failed;
}

static void test_racing_leaf(void)
{
    pthread_t th[RACERS];
    for (uintptr_t t = 0; t < RACERS; t++)
        REQUIRE(pthread_create(&th[t], NULL, racer, (void *)t) == 0);
    __atomic_store_n(&start_flag, 1, __ATOMIC_RELEASE);
    for (int t = 0; t < RACERS; t++) {
        void *failed;
        pthread_join(th[t], &failed);
        CHECK_EQ_SIZE((uintptr_t)failed, 0);
    }
    size_t known = 0;
    for (uintptr_t t = 0; t < RACERS; t++)
        for (uintptr_t i = 0; i < PER_RACER; i++)
            known += pm_subheap_known(at(race_slot(t, i)));
    CHECK_EQ_SIZE(known, RACERS * PER_RACER);
    for (uintptr_t t = 0; t < RACERS; t++)
        for (uintptr_t i = 0; i < PER_RACER; i++)
            pm_subheap_mark(at(race_slot(t, i)), false);
}

/* ---- a real sub-heap above 2^47, where the kernel allows one ---- */

static bool kernel_maps_high(void)
{
    void *p = mmap((void *)BIT(56), 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED)
        return false;
    munmap(p, 4096);
    return (uintptr_t)p >= BIT(47);
}

static void *high_arena_work(void *arg)
{
    (void)arg;
    uintptr_t failed = 0;
    void *blocks[256];
    for (size_t i = 0; i < 256; i++) {
        blocks[i] = malloc(100 + i * 40);
        if (blocks[i] == NULL)
            return (void *)(uintptr_t)1000;
    }
    failed += !chunk_non_main(hdr(blocks[0]));
    failed += (uintptr_t)heap_of_chunk(hdr(blocks[0])) < BIT(47);
    failed += !pm_subheap_known(blocks[0]);
    /* frees go through the arena's bins, past the thread cache */
    for (size_t i = 0; i < 256; i++)
        free(blocks[i]);
    return (void *)failed;
}

static void test_real_high_subheap(void)
{
    if (!kernel_maps_high()) {
        fprintf(stderr, "test_subheap_map: this kernel maps nothing above 2^47 (4-level page tables); "
                        "the map was tested on its own\n");
        return;
    }
    pm_os_reserve_hint((void *)BIT(56));
    pthread_t t;
    REQUIRE(pthread_create(&t, NULL, high_arena_work, NULL) == 0);
    void *failed;
    pthread_join(t, &failed);
    pm_os_reserve_hint(NULL);
    CHECK_EQ_SIZE((uintptr_t)failed, 0);
    malloc_trim(0);
    CHECK_HEAP();
}

/* A sub-heap that goes takes the link checks' hint (heap.h) with it: a
 * hint left naming an unmapped heap would be read at the next check. */
static void test_unmap_forgets_hint(void)
{
    static struct pm_arena owner; /* only its hint is read */
    struct pm_heap *h = pm_heap_new(pm_page_size(), &owner);
    REQUIRE(h != NULL);
    CHECK(pm_subheap_known(h));
    owner.owned_hint = h;
    pm_heap_unmap(h);
    CHECK(owner.owned_hint == NULL);
    CHECK(!pm_subheap_known(h));
}

int main(void)
{
    free(malloc(1)); /* started */
    test_high_slots();
    test_beyond_the_map();
    test_leaf_without_memory();
    test_racing_leaf();
    test_real_high_subheap();
    test_unmap_forgets_hint();
    CHECK_HEAP();
    return test_finish("test_subheap_map");
}
