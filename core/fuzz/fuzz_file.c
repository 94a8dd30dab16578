/*
 * fuzz_file.c -- libFuzzer harness for the file reader (art_file_open).
 *
 * Each input is a whole file image.  It is opened with the checksum check
 * bypassed, so that mutations reach the structural checks instead of
 * stopping at a checksum mismatch.  A file that opens must then survive
 * everything a reader does: walks both ways, seeks and skips, searches,
 * prefix lookups, a fuzzy search, stats, validate, and a copy into memory
 * that must itself validate and hold the same keys.  Loading it
 * (art_file_load) must accept exactly the files opening accepts, and hand
 * out one value slot per key.  AddressSanitizer sees
 * any read outside the image (it is copied into a buffer of exactly its
 * size), and the step limits turn a loop that never ends into an abort.
 *
 * The seed corpus (core/fuzz/file_corpus) holds files written by blart's
 * save(); tools/make_file_inputs.py regenerates it.
 */
#include "art.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* More steps than any key count a 4 KiB file can hold. */
#define STEP_LIMIT 100000

static void fail(const char *what)
{
    fprintf(stderr, "fuzz_file: %s\n", what);
    abort();
}

/* Walks t forwards and backwards; returns the number of keys. */
static size_t walk(art_tree *t)
{
    art_cursor c;
    size_t n = 0, back = 0;
    int r;
    art_cursor_init(&c, t);
    for (r = art_cursor_first(&c); r > 0; r = art_cursor_next(&c))
        if (++n > STEP_LIMIT)
            fail("forward walk does not end");
    if (r < 0)
        fail("out of memory");
    for (r = art_cursor_last(&c); r > 0; r = art_cursor_prev(&c))
        if (++back > STEP_LIMIT)
            fail("backward walk does not end");
    if (back != n)
        fail("forward and backward walks disagree");
    art_cursor_free(&c);
    return n;
}

/* Seeks, searches and prefix lookups for every key, read from a walk. */
static void probe_keys(art_tree *t, art_tree *copy)
{
    art_cursor c, s;
    size_t fl;
    int r;
    art_cursor_init(&c, t);
    art_cursor_init(&s, t);
    for (r = art_cursor_first(&c); r > 0; r = art_cursor_next(&c)) {
        void *v = art_cursor_value(&c);
        if (art_search(t, c.key, c.key_len) != v)
            fail("search does not find a key the walk found");
        if (copy && art_search(copy, c.key, c.key_len) != v)
            fail("the copy lacks a key");
        if (art_longest_prefix(t, c.key, c.key_len, &fl) != v ||
            fl != c.key_len)
            fail("longest prefix of a key is not the key");
        if (art_cursor_seek(&s, c.key, c.key_len, ART_SEEK_GE) != 1 ||
            s.key_len != c.key_len ||
            (c.key_len && memcmp(s.key, c.key, c.key_len) != 0))
            fail("seek to a key lands elsewhere");
        if (c.key_len)
            (void)art_cursor_seek(&s, c.key, c.key_len - 1, ART_SEEK_LT);
        if (art_cursor_seek(&s, c.key, c.key_len, ART_SEEK_GE) == 1)
            (void)art_cursor_skip(&s, c.key_len / 2);
    }
    art_cursor_free(&c);
    art_cursor_free(&s);
}

/*
 * Values while loading: each slot handed out gets a fresh block, so that a
 * value not given back shows as a count that does not return to zero (and
 * as a leak to LeakSanitizer).  A refused load leaves the blocks to the
 * caller, who finds them through the slots it was given.
 */
static long live_values;
static void **slots[STEP_LIMIT];
static size_t slot_count;

static int take_slot(void **slot, void *ctx)
{
    (void)ctx;
    if (slot_count == STEP_LIMIT)
        fail("more slots than keys");
    uint64_t *p = malloc(sizeof(*p));
    if (p == NULL)
        fail("out of memory");
    memcpy(p, slot, sizeof(*p));
    *slot = p;
    slots[slot_count++] = slot;
    live_values++;
    return 0;
}

static void free_value(void *value, void *ctx)
{
    (void)ctx;
    free(value);
    live_values--;
}

/*
 * Loads the image's nodes section into memory as art_file_load does for
 * TreeMap.load; returns its result.  A refused load hands out no more
 * slots than the header counts keys; an accepted one gives an ordinary
 * tree holding the header's count of keys, one slot each.
 */
static int load(const uint8_t *file, size_t size, unsigned options)
{
    art_file_header h;
    art_tree dst;
    const char *why = NULL;
    if (art_file_read_header(file, size, &h, &why) != ART_OK)
        return ART_EFORMAT;
    uint8_t *buf = art_file_buffer((size_t)h.nodes_size);
    if (buf == NULL)
        fail("out of memory");
    memcpy(buf, file + ART_FILE_HEADER_SIZE, (size_t)h.nodes_size);
    art_tree_init(&dst);
    slot_count = 0;
    int r = art_file_load(&dst, &h, buf, options, take_slot, NULL, &why);
    if (r != ART_OK) {
        if (r != ART_EFORMAT || why == NULL)
            fail("a refused load must say why");
        if (slot_count > h.count)
            fail("a refused load handed out more slots than keys");
        for (size_t i = 0; i < slot_count; i++)
            free_value(*slots[i], NULL);
        art_file_buffer_free(buf);
        if (live_values != 0)
            fail("values lost");
        return r;
    }
    if (slot_count != h.count)
        fail("a loaded tree's keys and slots differ");
    if (art_validate(&dst, &why) != ART_OK)
        fail(why);
    if (walk(&dst) != h.count)
        fail("the loaded tree lost keys");
    art_tree_clear(&dst, free_value, NULL);
    if (live_values != 0)
        fail("clearing a loaded tree leaves values");
    return r;
}

static void fuzzy(art_tree *t, const uint8_t *q, size_t n, int utf8)
{
    art_fuzzy f;
    size_t steps = 0;
    if (art_fuzzy_init(&f, t, q, n, 2, utf8) != ART_OK)
        fail("out of memory");
    while (art_fuzzy_next(&f) > 0)
        if (++steps > STEP_LIMIT)
            fail("fuzzy search does not end");
    art_fuzzy_free(&f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t live = art_live_allocations();
    /* 8-byte aligned and exactly as long as the input. */
    uint8_t *file = malloc(size ? size : 1);
    art_tree t, copy;
    art_file_header h;
    art_stats_t st;
    const char *why = NULL;
    if (file == NULL)
        return 0;
    if (size)
        memcpy(file, data, size);
    int r = art_file_open(&t, file, size, 0, NULL, NULL, &h, &why);
    /* Loading refuses what opening refuses, and nothing else. */
    if ((load(file, size, 0) == ART_OK) != (r == ART_OK))
        fail("loading and opening judge a file differently");
    if (r == ART_OK) {
        /* The UTF-8 check may refuse it, never anything worse. */
        art_tree u;
        art_file_close(&t);
        r = art_file_open(&u, file, size, ART_FILE_UTF8_KEYS, NULL, NULL, &h,
                          &why);
        if ((load(file, size, ART_FILE_UTF8_KEYS) == ART_OK) != (r == ART_OK))
            fail("loading and opening judge UTF-8 differently");
        if (r == ART_OK)
            art_file_close(&u);
        else if (r != ART_EFORMAT)
            fail("the UTF-8 check failed oddly");
        r = art_file_open(&t, file, size, 0, NULL, NULL, &h, &why);
        if (r != ART_OK)
            fail("a file opened once and not twice");
    }
    if (r != ART_OK) {
        if (r != ART_EFORMAT || why == NULL)
            fail("a refused file must say why");
        free(file);
        if (art_live_allocations() != live)
            fail("a refused file leaks");
        return 0;
    }
    if (art_validate(&t, &why) != ART_OK)
        fail(why);
    art_stats(&t, &st);
    if (walk(&t) != h.count || t.size != h.count)
        fail("key count differs from the header");
    art_tree_init(&copy);
    if (art_tree_copy(&copy, &t) != ART_OK)
        fail("copy failed");
    if (art_validate(&copy, &why) != ART_OK)
        fail(why);
    probe_keys(&t, &copy);
    fuzzy(&t, data, size < 12 ? size : 12, 0);
    fuzzy(&t, data + size / 2, size - size / 2 < 8 ? size - size / 2 : 8, 1);
    art_tree_clear(&copy, NULL, NULL);
    art_file_close(&t);
    free(file);
    if (art_live_allocations() != live)
        fail("leak");
    return 0;
}
