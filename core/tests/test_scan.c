/*
 * test_scan.c -- the stored keys inside a text (art_scan_*): worked
 * examples of each mode, the caller's word test, random trees and texts
 * against the model's brute force (model_scan_next) in all four modes,
 * with the tree changed between steps, and no allocation.
 * Part of the test_art binary (test_art.c runs it); see test_art.h.
 */
#include "test_art.h"

enum { MAX_MATCHES = 64 };

typedef struct {
    size_t start, end;
    void *value;
} match_t;

/* Every match of a whole scan of text in t: the count, at most cap. */
static size_t scan_all(const art_tree *t, const char *text, unsigned flags,
                       art_word_fn is_word, match_t *out, size_t cap)
{
    art_scan s;
    size_t n = 0;
    art_scan_init(&s, (const uint8_t *)text, strlen(text), flags, is_word);
    while (n < cap &&
           art_scan_next(&s, t, &out[n].start, &out[n].end, &out[n].value))
        n++;
    return n;
}

/* The scan of text gives exactly the (start, end) pairs of want, ended by
   a pair of zeros, and each value is the value of text[start..end). */
static int scan_gives(const art_tree *t, const char *text, unsigned flags,
                      art_word_fn is_word, const size_t *want)
{
    match_t got[MAX_MATCHES];
    size_t n = scan_all(t, text, flags, is_word, got, MAX_MATCHES), i;
    for (i = 0; i < n; i++) {
        if (!CHECK(want[2 * i] != 0 || want[2 * i + 1] != 0) ||
            !CHECK(got[i].start == want[2 * i]) ||
            !CHECK(got[i].end == want[2 * i + 1]) ||
            !CHECK(got[i].value ==
                   art_search(t, (const uint8_t *)text + got[i].start,
                              got[i].end - got[i].start))) {
            snprintf(g_ctx, sizeof g_ctx, "text \"%s\" flags %u match %zu",
                     text, flags, i);
            return 0;
        }
    }
    return CHECK(want[2 * n] == 0 && want[2 * n + 1] == 0);
}

void test_scan_modes(void)
{
    art_tree t;
    art_tree_init(&t);
    const char *keys[] = {"he", "her", "here", "she", "hers", "ers", "e"};
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
        art_insert(&t, (const uint8_t *)keys[i], strlen(keys[i]), VAL(i), NULL);
    art_insert(&t, K(""), VAL(99), NULL); /* never matches */

    /* Leftmost-longest: "she" at 0, then "here" at 4... */
    static const size_t longest[] = {0, 3, 4, 8, 9, 10, 0, 0};
    CHECK(scan_gives(&t, "she here e", 0, NULL, longest));
    /* Every occurrence, by start, shortest first. */
    static const size_t every[] = {0, 3, 1, 3, 2, 3, 4, 6,  4, 7,
                                   4, 8, 5, 6, 7, 8, 9, 10, 0, 0};
    CHECK(scan_gives(&t, "she here e", ART_SCAN_OVERLAPPING, NULL, every));
    /* Whole words: "she" inside "ashes" does not count; "here" does, and
       "her" in "here!" does not (the longest key ending on a boundary). */
    static const size_t words[] = {6, 10, 0, 0};
    CHECK(scan_gives(&t, "ashes here e_e", ART_SCAN_WHOLE_WORDS, NULL, words));
    static const size_t words_every[] = {0, 4, 0, 0};
    CHECK(scan_gives(&t, "hers_", ART_SCAN_WHOLE_WORDS | ART_SCAN_OVERLAPPING,
                     NULL, words_every + 2));
    CHECK(scan_gives(&t, "hers.", ART_SCAN_WHOLE_WORDS | ART_SCAN_OVERLAPPING,
                     NULL, words_every));
    /* Nothing in an empty text or a text of non-matches. */
    static const size_t none[] = {0, 0};
    CHECK(scan_gives(&t, "", 0, NULL, none));
    CHECK(scan_gives(&t, "xyz", ART_SCAN_OVERLAPPING, NULL, none));
    art_tree_clear(&t, NULL, NULL);
}

/* A word test that also takes U+00E9 (é), as str.isalnum() does. */
static int word_with_e_acute(uint32_t cp)
{
    return cp == 0xE9 || cp == '_' || (cp >= 'a' && cp <= 'z');
}

void test_scan_utf8_words(void)
{
    art_tree t;
    art_tree_init(&t);
    art_insert(&t, K("caf"), VAL(1), NULL);
    art_insert(&t, K("caf\xC3\xA9"), VAL(2), NULL);
    art_insert(&t, K("\xC3\xA9t\xC3\xA9"), VAL(3), NULL);
    art_insert(&t, K("\xA9"), VAL(4), NULL); /* a stray continuation byte */

    /* UTF-8 starts only on code points: the lone 0xA9 key never matches
       inside é.  Without UTF8 every byte is a start. */
    static const size_t utf8[] = {0, 5, 0, 0};
    CHECK(scan_gives(&t, "caf\xC3\xA9", ART_SCAN_UTF8, NULL, utf8));
    static const size_t bytes[] = {0, 5, 0, 0};
    CHECK(scan_gives(&t, "caf\xC3\xA9", 0, NULL, bytes));
    static const size_t bytes_every[] = {0, 3, 0, 5, 4, 5, 0, 0};
    CHECK(
        scan_gives(&t, "caf\xC3\xA9", ART_SCAN_OVERLAPPING, NULL, bytes_every));

    /* With the caller's word test é is a word character: "caf" followed
       by é is not a whole word, and "été" after "café" needs a space. */
    static const size_t word_e[] = {0, 5, 6, 11, 0, 0};
    CHECK(scan_gives(&t, "caf\xC3\xA9 \xC3\xA9t\xC3\xA9",
                     ART_SCAN_UTF8 | ART_SCAN_WHOLE_WORDS, word_with_e_acute,
                     word_e));
    static const size_t glued[] = {0, 0};
    CHECK(scan_gives(&t, "caf\xC3\xA9t\xC3\xA9 x",
                     ART_SCAN_UTF8 | ART_SCAN_WHOLE_WORDS, word_with_e_acute,
                     glued));
    /* Without it (ASCII words only) é is a boundary on either side. */
    static const size_t ascii_words[] = {2, 5, 2, 7, 0, 0};
    CHECK(
        scan_gives(&t,
                   "\xC3\xA9"
                   "caf\xC3\xA9",
                   ART_SCAN_UTF8 | ART_SCAN_WHOLE_WORDS | ART_SCAN_OVERLAPPING,
                   NULL, ascii_words));
    CHECK(
        scan_gives(&t,
                   "\xC3\xA9"
                   "caf\xC3\xA9",
                   ART_SCAN_UTF8 | ART_SCAN_WHOLE_WORDS | ART_SCAN_OVERLAPPING,
                   word_with_e_acute, glued));
    art_tree_clear(&t, NULL, NULL);
}

static const sym_t scan_syms_bytes[] = {{{'a'}, 1},  {{'b'}, 1},  {{' '}, 1},
                                        {{0x00}, 1}, {{0xFF}, 1}, {{'_'}, 1}};
static const sym_t scan_syms_utf8[] = {
    {{'a'}, 1},
    {{'b'}, 1},
    {{' '}, 1},
    {{'_'}, 1},
    {{0xC3, 0xA9}, 2},
    {{0xE6, 0x97, 0xA5}, 3},
    {{0xF0, 0x9F, 0x98, 0x80}, 4},
};

/* Scans text in t and in m side by side, step by step; every few steps
   a random key is inserted into or deleted from both. */
static int scan_against_model(art_tree *t, model *m, const rconf_t *cf,
                              const uint8_t *text, size_t len, unsigned flags,
                              int mutate)
{
    art_scan a, b;
    art_scan_init(&a, text, len, flags, NULL);
    art_scan_init(&b, text, len, flags, NULL);
    for (long step = 0;; step++) {
        size_t s1 = 0, e1 = 0, s2 = 0, e2 = 0;
        void *v1 = NULL, *v2 = NULL;
        int r1 = art_scan_next(&a, t, &s1, &e1, &v1);
        int r2 = model_scan_next(m, &b, &s2, &e2, &v2);
        snprintf(g_ctx, sizeof g_ctx, "seed %llu flags %u step %ld",
                 (unsigned long long)g_seed, flags, step);
        if (!CHECK(r1 == r2))
            return 0;
        if (r1 == 0)
            return 1;
        if (!CHECK(s1 == s2 && e1 == e2 && v1 == v2))
            return 0;
        if (mutate && rnd_below(4) == 0) {
            uint8_t k[RKEY_MAX * 4];
            size_t kl = gen_key(cf, cf->max_syms, k);
            if (rnd_below(2))
                tree_insert_both(t, m, k, kl, VAL(1000 + step));
            else
                tree_delete_both(t, m, k, kl);
        }
    }
}

static void scan_random(const rconf_t *cf, int rounds)
{
    static const unsigned modes[] = {
        0, ART_SCAN_OVERLAPPING, ART_SCAN_WHOLE_WORDS,
        ART_SCAN_WHOLE_WORDS | ART_SCAN_OVERLAPPING};
    uint8_t text[600];
    for (int round = 0; round < rounds; round++) {
        art_tree t;
        model m = {0};
        art_tree_init(&t);
        build_random(&t, &m, cf, 5 + rnd_below(60));
        size_t len = 0;
        while (len + 4 <= sizeof text) {
            const sym_t *s = &cf->syms[rnd_below(cf->nsyms)];
            memcpy(text + len, s->b, s->n);
            len += s->n;
        }
        for (size_t i = 0; i < sizeof modes / sizeof *modes; i++) {
            unsigned flags = modes[i] | (cf->utf8 ? ART_SCAN_UTF8 : 0);
            if (!scan_against_model(&t, &m, cf, text, len, flags, round & 1))
                round = rounds; /* stop at the first failure */
        }
        CHECK(valid(&t));
        art_tree_clear(&t, NULL, NULL);
        model_free(&m);
    }
}

void test_scan_random(void)
{
    const rconf_t bytes = {.name = "scan-bytes",
                           .syms = scan_syms_bytes,
                           .nsyms = sizeof scan_syms_bytes / sizeof(sym_t),
                           .max_syms = 5};
    const rconf_t utf8 = {.name = "scan-utf8",
                          .syms = scan_syms_utf8,
                          .nsyms = sizeof scan_syms_utf8 / sizeof(sym_t),
                          .max_syms = 4,
                          .utf8 = 1};
    scan_random(&bytes, 300);
    scan_random(&utf8, 300);
}

void test_scan_no_allocation(void)
{
    art_tree t;
    model m = {0};
    art_scan s;
    size_t start, end, n = 0;
    void *v;
    art_tree_init(&t);
    build_random(&t, &m, &g_wide_conf, 500);
    uint8_t text[4096];
    for (size_t i = 0; i < sizeof text; i++)
        text[i] = (uint8_t)rnd_below(256);
    t.fail_countdown = 1;
    for (unsigned flags = 0; flags < 8; flags++) {
        art_scan_init(&s, text, sizeof text, flags, NULL);
        while (art_scan_next(&s, &t, &start, &end, &v))
            n++;
    }
    CHECK(t.fail_countdown == 1);
    CHECK(n > 0);
    t.fail_countdown = 0;
    art_tree_clear(&t, NULL, NULL);
    model_free(&m);
}
