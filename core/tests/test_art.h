/*
 * test_art.h -- what the files of the C tests share: the checks, the
 * helpers that compare the tree with the model (model.h), the sweeps of
 * injected allocation failures, random keys, and the list of tests that
 * test_art.c runs.
 */
#ifndef BLART_TEST_ART_H
#define BLART_TEST_ART_H

#include "art.h"
#include "model.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { MAX_REPORTS = 20 };

/* Evaluates to 1 or 0 so that helpers can stop at the first mismatch. */
#define CHECK(e) ((e) ? 1 : check_failed(__FILE__, __LINE__, #e))
/* For a test that cannot meaningfully go on after this failure. */
#define REQUIRE(e)                                                             \
    do {                                                                       \
        if (!CHECK(e))                                                         \
            return;                                                            \
    } while (0)

/* Values are opaque to the tree; distinct small integers are enough. */
#define VAL(i) ((void *)(uintptr_t)((uintptr_t)(i)*8u + 8u))
/* A string literal as (key, len); embedded NULs count. */
#define K(s) ((const uint8_t *)(s)), (sizeof(s) - 1)

typedef struct {
    size_t calls;
    uintptr_t sum;
} tally_t;

typedef struct {
    const model *m;
    size_t seen, stop_after;
    int in_order;
} visit_t;

typedef struct {
    int is_delete;
    const uint8_t *key;
    size_t len;
    void *val;
    void *old;
} mut_t;

enum { SWEEP_LIMIT = 100000, SWEEP_BROKEN = -100 };

/* Symbols for generated keys: one to four bytes each. */
typedef struct {
    uint8_t b[4];
    uint8_t n;
} sym_t;

typedef struct {
    const char *name;
    const sym_t *syms;
    size_t nsyms;
    const size_t *hot; /* symbols favoured in first position */
    size_t nhot;
    size_t max_syms;
    int utf8;
    long steps;
    size_t fill_to;
    unsigned max_d;
    unsigned fuzzy_every;
} rconf_t;

enum { RKEY_MAX = 64 };

typedef struct {
    const char *s;
    size_t len;
} lit_t;
#define LIT(s)                                                                 \
    {                                                                          \
        (s), sizeof(s) - 1                                                     \
    }

extern const char *g_test;
extern char g_ctx[160]; /* seed and step of a randomized test, for replay */
extern unsigned long g_test_failures;
extern unsigned long long g_seed;
extern uint64_t g_rng;
extern const sym_t g_syms_small[];
extern sym_t g_syms_wide[64];
extern const size_t g_hot_wide[];
extern const sym_t g_syms_utf8[];
extern const rconf_t g_wide_conf;

/* test_art.c */
int check_failed(const char *file, int line, const char *expr);
int verbose(void);
void dump_key(const char *label, const uint8_t *k, size_t len);
int valid(const art_tree *t);

/* test_support.c */
uint64_t rnd(void);
size_t rnd_below(size_t n);
void shuffle(size_t *a, size_t n);
void *xmalloc(size_t n);
void *xrealloc(void *p, size_t n);
void copy_key(uint8_t *dst, const uint8_t *src, size_t len);
size_t common_len(const uint8_t *a, size_t al, const uint8_t *b, size_t bl);
int tree_insert_both(art_tree *t, model *m, const uint8_t *k, size_t len,
                     void *v);
int tree_delete_both(art_tree *t, model *m, const uint8_t *k, size_t len);
int cursor_on(const art_cursor *c, int r, const model *m, size_t i);
int tree_matches(art_tree *t, const model *m);
size_t total_nodes(const art_stats_t *s);
int stats_consistent(const art_tree *t);
/* An empty tree without buckets, whatever the core's default: for the
   tests of the inner nodes' shapes and of the version 2 file format. */
void plain_tree_init(art_tree *t);
void tally_value(void *value, void *ctx);
uintptr_t model_value_sum(const model *m);
int visit_in_order(void *value, void *ctx);
int visit_count(void *value, void *ctx);
int mutate_sweep(art_tree *t, const model *m, mut_t *op, int full_compare,
                 long *failures);
long seek_sweep(art_tree *t, const model *m, const uint8_t *key, size_t len,
                art_seek_mode mode);
int copy_once(art_tree *src, const model *m, long k);
long copy_sweep(art_tree *src, const model *m);
void scratch_free(void);
uint32_t levenshtein(const uint32_t *a, size_t an, const uint32_t *b,
                     size_t bn);
/* The fuzzy search's checks take art_fuzzy_init()'s flags (ART_FUZZY_*). */
uint32_t key_distance(const uint8_t *k, size_t len, const uint32_t *q,
                      size_t qn, int flags);
size_t model_next_match(const model *m, size_t from, const uint32_t *q,
                        size_t qn, uint32_t d, int flags, uint32_t *dist);
int fuzzy_run_matches(art_fuzzy *f, const model *m, const uint8_t *q,
                      size_t qlen, uint32_t d, int flags);
int fuzzy_matches(art_tree *t, const model *m, const uint8_t *q, size_t qlen,
                  uint32_t d, int flags);
long fuzzy_init_sweep(art_tree *t, const model *m, const uint8_t *q,
                      size_t qlen, uint32_t d, int flags);
void init_wide_syms(void);
size_t gen_key(const rconf_t *cf, size_t max_syms, uint8_t *out);
size_t gen_target(const rconf_t *cf, uint8_t *out);
void build_random(art_tree *t, model *m, const rconf_t *cf, size_t n);

/* The tests, in the order test_art.c runs them. */
/* test_tree.c */
void test_empty_tree(void);
void test_bucket_limits(void);
void test_bucket_bursts(void);
void test_bucket_merges(void);
void test_bucket_random(void);
void test_insert_search_delete(void);
void test_keys_that_are_prefixes(void);
void test_empty_key_and_extreme_bytes(void);
void test_foreach(void);
void test_clear_calls_back_once_per_value(void);
void test_copy_into_emptied_tree(void);
void test_copy(void);
void test_move(void);
void test_no_allocation(void);
/* test_nodes.c */
void test_node_grow_and_shrink(void);
void test_node_sizes(void);
void test_node_oscillation(void);
void test_node256_all_bytes(void);
void test_stats_simple(void);
void test_merge_on_delete(void);
void test_long_shared_prefixes(void);
void test_huge_keys(void);
void test_deep_chain(void);
/* test_cursor.c */
void test_cursor_basics(void);
void test_cursor_guard(void);
void test_cursor_weak_consistency(void);
void test_cursor_after_move_or_copy_into(void);
void test_cursors_survive_bulk_changes(void);
void test_prefix_lookups(void);
void test_fuzzy_basics(void);
void test_fuzzy_invalid_utf8(void);
void test_fuzzy_weak_consistency(void);
/* test_fuzzy.c */
void test_fuzzy_long_key(void);
void test_fuzzy_slices(void);
void test_fuzzy_variants(void);
void test_closest(void);
void test_closest_far_query(void);
void test_fuzzy_pause_and_change(void);
/* test_enomem.c */
void test_enomem_insert_delete(void);
void test_enomem_shrink(void);
void test_enomem_copy(void);
void test_enomem_cursor(void);
void test_enomem_fuzzy(void);
/* test_random.c */
void test_random_small_alphabet(void);
void test_random_wide_alphabet(void);
void test_random_utf8(void);
/* test_build.c */
void test_build_matches_inserts(void);
void test_build_edge_keys(void);
void test_build_refusals(void);
void test_enomem_build(void);
/* test_scan.c */
void test_scan_modes(void);
void test_scan_utf8_words(void);
void test_scan_random(void);
void test_scan_no_allocation(void);
/* test_file.c */
void test_file_round_trips(void);
void test_file_write_failures(void);
void test_file_load_failures(void);
void test_file_utf8_and_layout_checks(void);
void test_file_hostile(void);
void test_file_versions(void);
void test_file_checksum(void);

#endif /* BLART_TEST_ART_H */
