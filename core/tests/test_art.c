/*
 * Tests for the ART core.  core/art.h is the contract; the core's .c
 * files are the code under test.  `make test-c` builds these files with
 * ASan and UBSan, so every test is also a memory-safety test: a stale
 * cursor or a leak fails the run even when every CHECK passes.
 *
 * This file holds the checks and the runner; the tests live in the
 * test_*.c files by section, and model.c is the model they check the
 * tree against (shared with core/fuzz/fuzz_art.c).
 *
 * Usage: test_art [seed [name]]
 *   seed: for the randomized tests (the default is fixed so runs repeat)
 *   name: run only the tests whose name contains this string
 */
#include "test_art.h"

/* ------------------------------------------------------------------ */
/* Checks                                                              */
/* ------------------------------------------------------------------ */

const char *g_test = "?";
char g_ctx[160]; /* seed and step of a randomized test, for replay */
unsigned long g_test_failures;
unsigned long long g_seed = 20240611ULL;

int check_failed(const char *file, int line, const char *expr)
{
    g_test_failures++;
    if (g_test_failures <= MAX_REPORTS)
        fprintf(stderr, "%s:%d: [%s%s%s] CHECK failed: %s\n", file, line,
                g_test, g_ctx[0] ? " " : "", g_ctx, expr);
    else if (g_test_failures == MAX_REPORTS + 1)
        fprintf(stderr, "[%s] further failures not shown\n", g_test);
    return 0;
}

int verbose(void)
{
    return g_test_failures <= MAX_REPORTS;
}

void dump_key(const char *label, const uint8_t *k, size_t len)
{
    size_t i;
    if (!verbose())
        return;
    fprintf(stderr, "    %s (%zu bytes):", label, len);
    for (i = 0; i < len && i < 48; i++)
        fprintf(stderr, " %02x", k[i]);
    if (len > 48)
        fprintf(stderr, " ...");
    fputc('\n', stderr);
}

int valid(const art_tree *t)
{
    const char *why = NULL;
    if (art_validate(t, &why) == ART_OK)
        return 1;
    if (verbose())
        fprintf(stderr, "    art_validate: %s\n", why ? why : "(no reason)");
    return 0;
}

/* ------------------------------------------------------------------ */

typedef void (*test_fn)(void);
static int g_passed, g_failed;
static const char *g_only;

static void run_test(const char *name, test_fn fn)
{
    uint64_t h = 1469598103934665603ULL;
    const char *p;
    size_t live;
    if (g_only && !strstr(name, g_only))
        return;
    /* Each test gets its own stream, so adding a test changes no other. */
    for (p = name; *p; p++)
        h = (h ^ (uint8_t)*p) * 1099511628211ULL;
    g_rng = (uint64_t)g_seed ^ h;
    g_test = name;
    g_ctx[0] = '\0';
    g_test_failures = 0;
    live = art_live_allocations();
    fn();
    g_ctx[0] = '\0';
    /* Every test frees what it made; a test that already failed may have
       bailed out early, so only a passing test is held to this. */
    if (!g_test_failures && !CHECK(art_live_allocations() == live) && verbose())
        fprintf(stderr, "    %zu blocks still allocated by the library\n",
                art_live_allocations() - live);
    if (g_test_failures) {
        g_failed++;
        fprintf(stderr, "FAIL %s (%lu failed checks)\n", name, g_test_failures);
    } else {
        g_passed++;
    }
    fflush(stderr);
}

#define RUN(fn) run_test(#fn, fn)

int main(int argc, char **argv)
{
    if (argc > 1)
        g_seed = strtoull(argv[1], NULL, 0);
    if (argc > 2)
        g_only = argv[2];
    init_wide_syms();

    RUN(test_empty_tree);
    RUN(test_insert_search_delete);
    RUN(test_keys_that_are_prefixes);
    RUN(test_empty_key_and_extreme_bytes);
    RUN(test_node_grow_and_shrink);
    RUN(test_node_sizes);
    RUN(test_node_oscillation);
    RUN(test_node256_all_bytes);
    RUN(test_stats_simple);
    RUN(test_merge_on_delete);
    RUN(test_long_shared_prefixes);
    RUN(test_huge_keys);
    RUN(test_deep_chain);
    RUN(test_foreach);
    RUN(test_clear_calls_back_once_per_value);
    RUN(test_copy);
    RUN(test_copy_into_emptied_tree);
    RUN(test_move);
    RUN(test_no_allocation);
    RUN(test_cursor_basics);
    RUN(test_cursor_guard);
    RUN(test_cursor_weak_consistency);
    RUN(test_cursor_after_move_or_copy_into);
    RUN(test_cursors_survive_bulk_changes);
    RUN(test_prefix_lookups);
    RUN(test_fuzzy_basics);
    RUN(test_fuzzy_invalid_utf8);
    RUN(test_fuzzy_weak_consistency);
    RUN(test_fuzzy_long_key);
    RUN(test_fuzzy_slices);
    RUN(test_fuzzy_pause_and_change);
    RUN(test_fuzzy_variants);
    RUN(test_closest);
    RUN(test_closest_far_query);
    RUN(test_enomem_insert_delete);
    RUN(test_enomem_shrink);
    RUN(test_enomem_copy);
    RUN(test_enomem_cursor);
    RUN(test_enomem_fuzzy);
    RUN(test_build_matches_inserts);
    RUN(test_build_edge_keys);
    RUN(test_build_refusals);
    RUN(test_enomem_build);
    RUN(test_scan_modes);
    RUN(test_scan_utf8_words);
    RUN(test_scan_random);
    RUN(test_scan_no_allocation);
    RUN(test_bucket_limits);
    RUN(test_bucket_bursts);
    RUN(test_bucket_merges);
    RUN(test_bucket_random);
    RUN(test_file_checksum);
    RUN(test_file_round_trips);
    RUN(test_file_write_failures);
    RUN(test_file_load_failures);
    RUN(test_file_utf8_and_layout_checks);
    RUN(test_file_hostile);
    RUN(test_file_versions);
    RUN(test_random_small_alphabet);
    RUN(test_random_wide_alphabet);
    RUN(test_random_utf8);

    scratch_free();
    printf("%d passed, %d failed\n", g_passed, g_failed);
    fflush(stdout);
    return g_failed != 0;
}
