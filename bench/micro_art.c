/*
 * micro_art.c -- the adaptive radix tree alone, without Python: ns per
 * insert, lookup (hit and miss), ordered iteration and delete, on the same
 * URL-like keys as the Python benchmark.
 *
 *   make bench/.build/micro_art      (or: cc -O2 -std=c11 -Icore core/art*.c
 *                                     bench/micro_art.c -o
 * bench/.build/micro_art -lm) bench/.build/micro_art [-n N] [-f KEYS_FILE] [-r
 * REPS] [-p PHASES]
 *
 * KEYS_FILE has one key per line (bench/run.py writes them to
 * bench/.cache/v3-urls-1000000.keys); without -f the keys are generated
 * here with a fixed seed (URL-like, Zipf-distributed hosts and
 * directories, like bench/workloads.py but not the same strings).
 * PHASES is a comma list of insert,lookup,miss,iter,delete,frozen (default
 * all); the map is always built first, timed or not.  frozen writes the
 * tree as a file image in memory, opens it with art_file_open() (a
 * FrozenTreeMap's tree) and looks up every key, then walks it in order.
 *
 * Timing is CPU time of the process (CLOCK_PROCESS_CPUTIME_ID), best of
 * REPS runs.  Under valgrind use -r 1 and read instruction counts per
 * call from callgrind (see bench/README.md and bench/callgrind.sh).
 */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "art.h"

typedef struct {
    char *buf;   /* all keys, back to back */
    size_t *off; /* key i is buf[off[i] .. off[i] + len[i]) */
    uint32_t *len;
    size_t n, cap, used, buf_cap;
} keyset;

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    return p;
}

static void *xrealloc(void *p, size_t n)
{
    p = realloc(p, n ? n : 1);
    if (!p) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    return p;
}

static void ks_add(keyset *ks, const char *s, size_t n)
{
    if (ks->n == ks->cap) {
        ks->cap = ks->cap ? ks->cap * 2 : 1024;
        ks->off = xrealloc(ks->off, ks->cap * sizeof(size_t));
        ks->len = xrealloc(ks->len, ks->cap * sizeof(uint32_t));
    }
    if (ks->used + n > ks->buf_cap) {
        ks->buf_cap = (ks->buf_cap + n) * 2;
        ks->buf = xrealloc(ks->buf, ks->buf_cap);
    }
    memcpy(ks->buf + ks->used, s, n);
    ks->off[ks->n] = ks->used;
    ks->len[ks->n] = (uint32_t)n;
    ks->used += n;
    ks->n++;
}

static const uint8_t *ks_key(const keyset *ks, size_t i)
{
    return (const uint8_t *)ks->buf + ks->off[i];
}

/* xorshift64*: small, fast, deterministic. */
static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint64_t rnd(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717ull;
}
static size_t rnd_below(size_t n)
{
    return (size_t)(rnd() % n);
}

/* Index drawn with probability ~ 1/(i+1): inverse of a harmonic CDF. */
static size_t zipf(const double *cdf, size_t n)
{
    double u = (double)(rnd() >> 11) / 9007199254740992.0 * cdf[n - 1];
    size_t lo = 0, hi = n - 1;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (cdf[mid] < u)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static size_t syllables(char *out, int lo, int hi)
{
    static const char C[] = "bcdfghjklmnprstvwz", V[] = "aeiou";
    int k = lo + (int)rnd_below((size_t)(hi - lo + 1));
    size_t n = 0;
    for (int i = 0; i < k; i++) {
        out[n++] = C[rnd_below(sizeof C - 1)];
        out[n++] = V[rnd_below(sizeof V - 1)];
        if (rnd_below(10) < 3)
            out[n++] = C[rnd_below(sizeof C - 1)];
    }
    out[n] = 0;
    return n;
}

/* URL-like keys; duplicates are possible and harmless (insert replaces). */
static void gen_urls(keyset *ks, size_t n)
{
    enum { NH = 4000, ND = 3000, NL = 20000 };
    static char hosts[NH][48], dirs[ND][16], leaves[NL][16];
    static double hcdf[NH], dcdf[ND];
    static const char *tld[] = {"com",   "org", "net", "io",  "de",
                                "co.uk", "fr",  "edu", "gov", "info"};
    static const char *sub[] = {"www.", "www.",  "",      "api.",
                                "cdn.", "blog.", "shop.", "m."};
    static const char *ext[] = {".html", ".php", "/", ".json",
                                ".jpg",  ".png", ""};
    double acc = 0;
    for (int i = 0; i < NH; i++) {
        char s[32];
        syllables(s, 1, 4);
        snprintf(hosts[i], sizeof hosts[i], "%s%s.%s", sub[rnd_below(8)], s,
                 tld[rnd_below(10)]);
        acc += 1.0 / __builtin_pow(i + 1, 1.1);
        hcdf[i] = acc;
    }
    acc = 0;
    for (int i = 0; i < ND; i++) {
        syllables(dirs[i], 1, 3);
        acc += 1.0 / __builtin_pow(i + 1, 0.9);
        dcdf[i] = acc;
    }
    for (int i = 0; i < NL; i++)
        syllables(leaves[i], 1, 4);
    char key[512];
    for (size_t i = 0; i < n; i++) {
        size_t k = (size_t)snprintf(key, sizeof key, "%s%s/",
                                    rnd_below(10) < 8 ? "https://" : "http://",
                                    hosts[zipf(hcdf, NH)]);
        static const int depths[] = {1, 1, 2, 2, 2, 3, 3, 4};
        int depth = depths[rnd_below(8)];
        for (int d = 0; d < depth; d++)
            k += (size_t)snprintf(key + k, sizeof key - k, "%s%s", d ? "/" : "",
                                  dirs[zipf(dcdf, ND)]);
        k += (size_t)snprintf(key + k, sizeof key - k, "/%s",
                              leaves[rnd_below(NL)]);
        if (rnd_below(100) < 35)
            k += (size_t)snprintf(key + k, sizeof key - k, "-%d",
                                  (int)rnd_below(100000));
        const char *e = ext[rnd_below(7)];
        k += (size_t)snprintf(key + k, sizeof key - k, "%s", e);
        if (strcmp(e, ".php") == 0)
            k += (size_t)snprintf(key + k, sizeof key - k, "?id=%d",
                                  (int)rnd_below(1000000));
        key[k++] = ';';
        ks_add(ks, key, k);
    }
}

static void read_keys(keyset *ks, const char *path, size_t limit)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        exit(2);
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t got;
    while (ks->n < limit && (got = getline(&line, &cap, f)) >= 0) {
        if (got > 0 && line[got - 1] == '\n')
            got--;
        ks_add(ks, line, (size_t)got);
    }
    free(line);
    fclose(f);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void shuffle(size_t *a, size_t n)
{
    for (size_t i = n; i > 1; i--) {
        size_t j = rnd_below(i);
        size_t t = a[i - 1];
        a[i - 1] = a[j];
        a[j] = t;
    }
}

static int has_phase(const char *phases, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = phases; (p = strstr(p, name)) != NULL; p += n)
        if ((p == phases || p[-1] == ',') && (p[n] == 0 || p[n] == ','))
            return 1;
    return 0;
}

static int dummy_value;
static volatile uintptr_t sink;

static void build(art_tree *t, const keyset *ks)
{
    for (size_t i = 0; i < ks->n; i++)
        if (art_insert(t, ks_key(ks, i), ks->len[i], &dummy_value, NULL) < 0) {
            fprintf(stderr, "insert failed\n");
            exit(2);
        }
}

/* The keys' indexes in ascending key order (duplicates next to each
   other). */
static const keyset *sort_ks;
static int by_key(const void *a, const void *b)
{
    size_t i = *(const size_t *)a, j = *(const size_t *)b;
    return art_key_compare(ks_key(sort_ks, i), sort_ks->len[i],
                           ks_key(sort_ks, j), sort_ks->len[j]);
}

static size_t *sorted_order(const keyset *ks)
{
    size_t *ix = xmalloc((ks->n + 1) * sizeof(size_t));
    for (size_t i = 0; i < ks->n; i++)
        ix[i] = i;
    sort_ks = ks;
    qsort(ix, ks->n, sizeof(size_t), by_key);
    return ix;
}

/* t from the keys in ascending order at once; a repeated key is refused
   (ART_EINVAL) and skipped. */
static void build_sorted(art_tree *t, const keyset *ks, const size_t *ix)
{
    art_builder b;
    art_build_init(&b, t);
    for (size_t i = 0; i < ks->n; i++)
        if (art_build_add(&b, ks_key(ks, ix[i]), ks->len[ix[i]],
                          &dummy_value) == ART_ENOMEM) {
            fprintf(stderr, "build failed\n");
            exit(2);
        }
    if (art_build_finish(&b) != ART_OK) {
        fprintf(stderr, "build failed\n");
        exit(2);
    }
}

/* Best time of reps walks over every key of t with one cursor. */
static double walk_all(art_tree *t, int reps, const char *what)
{
    double best = 1e30;
    art_cursor c;
    art_cursor_init(&c, t);
    for (int r = 0; r < reps; r++) {
        double t0 = now();
        size_t count = 0, bytes = 0;
        for (int ok = art_cursor_first(&c); ok == 1; ok = art_cursor_next(&c)) {
            count++;
            bytes += c.key_len;
            sink = (uintptr_t)art_cursor_value(&c);
        }
        double dt = now() - t0;
        if (count != t->size)
            fprintf(stderr, "%s: %zu keys of %zu\n", what, count, t->size);
        sink = bytes;
        if (dt < best)
            best = dt;
    }
    art_cursor_free(&c);
    return best;
}

/* The file image being written (frozen phase): 8-byte aligned. */
typedef struct {
    uint64_t *words;
    size_t len, cap;
} image;

static int image_write(const void *p, size_t n, void *ctx)
{
    image *im = ctx;
    if (im->len + n > im->cap * 8) {
        while (im->len + n > im->cap * 8)
            im->cap = im->cap ? im->cap * 2 : 1 << 16;
        im->words = xrealloc(im->words, im->cap * 8);
    }
    memcpy((char *)im->words + im->len, p, n);
    im->len += n;
    return 0;
}

/* Every value is stored as the constant None of docs/format.md. */
static int none_ref(void *value, uint64_t *ref, void *ctx)
{
    (void)value, (void)ctx;
    *ref = 2;
    return 0;
}

/* t as a whole file: header, nodes, a values section of its tag alone. */
static image file_image(const art_tree *t)
{
    image im = {0};
    art_file_header h = {0};
    uint8_t head[ART_FILE_HEADER_SIZE] = {0};
    image_write(head, sizeof head, &im);
    if (art_file_write_nodes(t, image_write, none_ref, &im, &h) != ART_OK) {
        fprintf(stderr, "writing the file image failed\n");
        exit(2);
    }
    image_write("VALUES\0\0", 8, &im);
    h.version = ART_FILE_VERSION;
    h.values_size = 8;
    art_file_header_encode(&h, (uint8_t *)im.words);
    return im;
}

static void report(const char *phase, double best, size_t ops)
{
    printf("%-8s %9.1f ns/op  (%zu ops)\n", phase, best / (double)ops * 1e9,
           ops);
}

int main(int argc, char **argv)
{
    size_t n = 1000000;
    const char *file = NULL,
               *phases = "insert,lookup,miss,iter,build,delete,frozen";
    int reps = 3;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-n") && i + 1 < argc)
            n = (size_t)strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "-f") && i + 1 < argc)
            file = argv[++i];
        else if (!strcmp(argv[i], "-r") && i + 1 < argc)
            reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "-p") && i + 1 < argc)
            phases = argv[++i];
        else {
            fprintf(stderr,
                    "usage: %s [-n N] [-f KEYS_FILE] [-r REPS] [-p "
                    "insert,lookup,miss,iter,build,delete,frozen]\n",
                    argv[0]);
            return 2;
        }
    }
    if (reps < 1)
        reps = 1;
    keyset ks = {0};
    if (file)
        read_keys(&ks, file, n);
    else
        gen_urls(&ks, n);
    n = ks.n;
    double total_len = 0;
    for (size_t i = 0; i < n; i++)
        total_len += ks.len[i];
    printf("keys: %zu from %s, mean length %.1f bytes\n", n,
           file ? file : "the built-in generator",
           total_len / (double)(n ? n : 1));

    size_t *order = xmalloc(n * sizeof(size_t));
    for (size_t i = 0; i < n; i++)
        order[i] = i;
    shuffle(order, n);

    /* Misses: each key with one byte changed to one no key uses here
       ('\x01'), at a random position, so most fail deep in the tree. */
    keyset miss = {0};
    char tmp[4096];
    for (size_t i = 0; i < n; i++) {
        size_t j = order[i];
        size_t L = ks.len[j] < sizeof tmp ? ks.len[j] : sizeof tmp;
        memcpy(tmp, ks_key(&ks, j), L);
        if (L)
            tmp[rnd_below(L)] = 1;
        ks_add(&miss, tmp, L);
    }

    art_tree t;
    art_tree_init(&t);
    double best = 1e30;
    for (int r = 0; r < reps || r == 0; r++) {
        art_tree_clear(&t, NULL, NULL);
        double t0 = now();
        build(&t, &ks);
        double dt = now() - t0;
        if (dt < best)
            best = dt;
        if (!has_phase(phases, "insert"))
            break;
    }
    if (has_phase(phases, "insert"))
        report("insert", best, n);
    art_stats_t st;
    art_stats(&t, &st);
    printf("tree: %zu keys, %zu bytes (%.1f per key); node4 %zu node16 %zu "
           "node48 %zu node256 %zu; "
           "leaves %zu; depth mean %.2f max %zu\n",
           t.size, st.bytes, (double)st.bytes / (double)(n ? n : 1),
           st.nodes[ART_NODE4], st.nodes[ART_NODE16], st.nodes[ART_NODE48],
           st.nodes[ART_NODE256], st.leaves, st.mean_depth, st.max_depth);

    if (has_phase(phases, "lookup")) {
        best = 1e30;
        for (int r = 0; r < reps; r++) {
            double t0 = now();
            uintptr_t acc = 0;
            for (size_t i = 0; i < n; i++) {
                size_t j = order[i];
                acc += (uintptr_t)art_search(&t, ks_key(&ks, j), ks.len[j]);
            }
            double dt = now() - t0;
            sink = acc;
            if (acc != (uintptr_t)&dummy_value * n)
                fprintf(stderr, "lookup: some keys not found\n");
            if (dt < best)
                best = dt;
        }
        report("lookup", best, n);
    }
    if (has_phase(phases, "miss")) {
        best = 1e30;
        for (int r = 0; r < reps; r++) {
            double t0 = now();
            uintptr_t acc = 0;
            for (size_t i = 0; i < miss.n; i++)
                acc += (uintptr_t)art_search(&t, ks_key(&miss, i), miss.len[i]);
            double dt = now() - t0;
            sink = acc;
            if (dt < best)
                best = dt;
        }
        report("miss", best, miss.n);
    }
    if (has_phase(phases, "iter"))
        report("iter", walk_all(&t, reps, "iter"), t.size);
    if (has_phase(phases, "build")) {
        /* The same keys in ascending order: inserted one by one, then
           built at once (art_build_*), then the built tree walked. */
        size_t *ix = sorted_order(&ks);
        art_tree s;
        art_tree_init(&s);
        best = 1e30;
        for (int r = 0; r < reps; r++) {
            art_tree_clear(&s, NULL, NULL);
            double t0 = now();
            for (size_t i = 0; i < n; i++)
                art_insert(&s, ks_key(&ks, ix[i]), ks.len[ix[i]], &dummy_value,
                           NULL);
            double dt = now() - t0;
            if (dt < best)
                best = dt;
        }
        report("ins-sort", best, n);
        best = 1e30;
        for (int r = 0; r < reps; r++) {
            art_tree_clear(&s, NULL, NULL);
            double t0 = now();
            build_sorted(&s, &ks, ix);
            double dt = now() - t0;
            if (dt < best)
                best = dt;
        }
        report("build", best, n);
        report("it-built", walk_all(&s, reps, "it-built"), s.size);
        art_tree_clear(&s, NULL, NULL);
        free(s.walk);
        free(ix);
    }
    if (has_phase(phases, "frozen")) {
        image im = file_image(&t);
        art_tree ft;
        art_file_header h;
        const char *why = NULL;
        if (art_file_open(&ft, (const uint8_t *)im.words, im.len, 0, NULL, NULL,
                          &h, &why) != ART_OK) {
            fprintf(stderr, "frozen: cannot open the image: %s\n", why);
            exit(2);
        }
        best = 1e30;
        for (int r = 0; r < reps; r++) {
            double t0 = now();
            size_t found = 0;
            for (size_t i = 0; i < n; i++) {
                size_t j = order[i];
                found += art_search(&ft, ks_key(&ks, j), ks.len[j]) != NULL;
            }
            double dt = now() - t0;
            if (found != n)
                fprintf(stderr, "frozen: %zu keys of %zu found\n", found, n);
            if (dt < best)
                best = dt;
        }
        report("frozen", best, n);
        best = 1e30;
        art_cursor c;
        art_cursor_init(&c, &ft);
        for (int r = 0; r < reps; r++) {
            double t0 = now();
            size_t count = 0;
            for (int ok = art_cursor_first(&c); ok == 1;
                 ok = art_cursor_next(&c))
                count++;
            double dt = now() - t0;
            if (count != ft.size)
                fprintf(stderr, "frozen iter: %zu keys of %zu\n", count,
                        ft.size);
            if (dt < best)
                best = dt;
        }
        art_cursor_free(&c);
        report("fz-iter", best, ft.size);
        art_file_close(&ft);
        free(im.words);
    }
    if (has_phase(phases, "delete")) {
        best = 1e30;
        for (int r = 0; r < reps; r++) {
            if (r > 0) {
                art_tree_clear(&t, NULL, NULL);
                build(&t, &ks);
            }
            size_t before = t.size;
            double t0 = now();
            for (size_t i = 0; i < n; i++) {
                size_t j = order[i];
                art_delete(&t, ks_key(&ks, j), ks.len[j], NULL);
            }
            double dt = now() - t0;
            if (t.size != 0)
                fprintf(stderr, "delete: %zu keys left\n", t.size);
            if (dt < best)
                best = dt;
            (void)before;
        }
        report("delete", best, n);
    }
    art_tree_clear(&t, NULL, NULL);
    free(t.walk);
    free(order);
    free(ks.buf);
    free(ks.off);
    free(ks.len);
    free(miss.buf);
    free(miss.off);
    free(miss.len);
    return 0;
}
