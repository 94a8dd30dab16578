/*
 * fuzz_art.c -- libFuzzer harness for the ART core (core/art.h).
 *
 * Each input is decoded into a sequence of operations on two trees, two
 * cursors and one fuzzy search, and every result is checked against a
 * model: a sorted array of (key, value) per tree, brute-force bounds for
 * the seeks, steps and skips, brute-force prefix scans and text scans
 * (model_scan_next), and the distance of model_distance() for the fuzzy
 * search in all its variants and for the n closest keys (art_closest).
 * art_validate() runs after every mutation; at the end of each input everything
 * is freed and art_live_allocations() must be back where it started
 * (LeakSanitizer catches what the counter cannot).  A mismatch prints what was
 * expected and what the tree said, then aborts, so libFuzzer saves the input.
 *
 * Set FUZZ_ART_TRACE=1 to print every decoded operation to stderr: that
 * is how a saved input is turned into a readable reproducer.
 *
 * Input format
 * ------------
 * byte 0: mode.  Bit 0 set: every key is valid UTF-8 (symbols come from a
 *         table of code points of every encoded length, surrogates
 *         included), so the UTF-8 fuzzy search can be checked exactly.
 *         Otherwise symbols are raw bytes.
 * then, until the input ends: an opcode byte (taken modulo OP_COUNT), an
 * argument byte, and whatever the operation reads (keys, counts, ...).
 * Reading past the end yields zeros, so every input decodes.
 *
 * Keys are built by get_key(): raw symbols, an existing key of a model,
 * or an existing key with one edit (so that seeks, prefix walks and fuzzy
 * queries land next to, on, or inside keys that exist).
 */
#include "art.h"
#include "model.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* LeakSanitizer's interface, when the build has it (ASan includes it). */
#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(leak_sanitizer)
#define HAVE_LSAN_INTERFACE 1
#endif
#elif defined(__SANITIZE_ADDRESS__)
#define HAVE_LSAN_INTERFACE 1
#endif
#ifdef HAVE_LSAN_INTERFACE
#include <sanitizer/lsan_interface.h>
#endif

enum {
    NTREES = 2,
    NCURSORS = 2,
    MAX_KEYS = 2048,  /* per tree; inserts of new keys beyond are skipped */
    KEY_LIMIT = 1100, /* bytes: long enough for malloc'd leaves and nodes */
    KEY_BUF = KEY_LIMIT + 8,
    MAX_SYMS = KEY_LIMIT,
    QUERY_SYMS = 40,  /* longest fuzzy query, in symbols */
    SCAN_TEXT = 1200, /* longest scanned text, in bytes */
};

/* ------------------------------------------------------------------ */
/* Failure reporting and tracing                                       */
/* ------------------------------------------------------------------ */

static int g_trace;
static unsigned long g_op; /* index of the operation being run */

static void fail(int line, const char *cond, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr,
            "\nfuzz_art: MISMATCH in operation %lu (fuzz_art.c:%d: %s)\n  ",
            g_op, line, cond);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n");
    abort();
}

#define REQUIRE(cond, ...)                                                     \
    do {                                                                       \
        if (!(cond))                                                           \
            fail(__LINE__, #cond, __VA_ARGS__);                                \
    } while (0)

static void trace(const char *fmt, ...)
{
    va_list ap;
    if (!g_trace)
        return;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
}

/* Prints a key as a C-like string literal (printable ASCII kept). */
static void trace_key(const char *label, const uint8_t *k, size_t len)
{
    if (!g_trace)
        return;
    fprintf(stderr, "%s\"", label);
    for (size_t i = 0; i < len; i++) {
        if (i == 64 && len > 80) {
            fprintf(stderr, "\"...(%zu bytes)...\"", len - 80);
            i = len - 16;
        }
        uint8_t b = k[i];
        if (b >= 0x20 && b < 0x7F && b != '"' && b != '\\')
            fputc(b, stderr);
        else
            fprintf(stderr, "\\x%02x", b);
    }
    fprintf(stderr, "\" (len %zu)", len);
}

/* ------------------------------------------------------------------ */
/* Input                                                               */
/* ------------------------------------------------------------------ */

typedef struct {
    const uint8_t *p;
    size_t n, i;
} input;

static int more(const input *in)
{
    return in->i < in->n;
}
static uint8_t u8(input *in)
{
    return in->i < in->n ? in->p[in->i++] : 0;
}

/* ------------------------------------------------------------------ */
/* Bytes, symbols and UTF-8                                            */
/* ------------------------------------------------------------------ */

/* Code points the UTF-8 mode draws from: every encoded length, the edges
   of each, surrogates (the binding passes them through) and U+0000. */
static const uint32_t g_cps[32] = {
    'a',     'b',     'c',      'd',    'e',    'f',    0x00,   0x7F,
    0x80,    0xE9,    0xFF,     0x100,  0x7FF,  0x800,  0xFFF,  0x20AC,
    0xD7FF,  0xD800,  0xDBFF,   0xDC00, 0xDFFF, 0xE000, 0xFFFD, 0xFFFF,
    0x10000, 0x1F600, 0x10FFFF, 'A',    '/',    '.',    0x4E00, 0x4E01,
};

/* Code point bases for bulk runs of 256 consecutive symbols. */
static const uint32_t g_bulk_base[4] = {0x00, 0xC0, 0x4E00, 0x1F600};

static size_t utf8_encode(uint32_t cp, uint8_t *out)
{
    if (cp < 0x80) {
        out[0] = (uint8_t)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (uint8_t)(0xC0 | (cp >> 6));
        out[1] = (uint8_t)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (uint8_t)(0xE0 | (cp >> 12));
        out[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (uint8_t)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (uint8_t)(0xF0 | (cp >> 18));
    out[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (uint8_t)(0x80 | (cp & 0x3F));
    return 4;
}

/* Byte offset where symbol number nsyms starts (as model_symbols splits). */
static size_t sym_offset(const uint8_t *k, size_t len, int utf8, size_t nsyms)
{
    size_t i = 0;
    for (size_t s = 0; s < nsyms && i < len; s++) {
        uint8_t b = k[i];
        size_t w = 1;
        if (utf8 && b >= 0xC0 && b < 0xF8)
            w = b < 0xE0 ? 2 : b < 0xF0 ? 3 : 4;
        i += w < len - i ? w : len - i;
    }
    return i;
}

/* Encodes symbols; stops before KEY_LIMIT bytes would be exceeded. */
static size_t from_syms(const uint32_t *s, size_t n, int utf8, uint8_t *out)
{
    size_t len = 0;
    for (size_t i = 0; i < n; i++) {
        uint8_t tmp[4];
        size_t w = utf8 ? utf8_encode(s[i], tmp) : 1;
        if (!utf8)
            tmp[0] = (uint8_t)s[i];
        if (len + w > KEY_LIMIT)
            break;
        memcpy(out + len, tmp, w);
        len += w;
    }
    return len;
}

/* ------------------------------------------------------------------ */
/* The model                                                           */
/* ------------------------------------------------------------------ */

static char g_vals[256]; /* values are pointers into this array */
static art_tree g_t[NTREES];
/* Per tree: its keys (at most MAX_KEYS), the number of changes of
   structure so far, and the tree's version after the last operation. */
static model g_m[NTREES];
static uint64_t g_epoch[NTREES], g_version[NTREES];
static int g_utf8; /* every key is valid UTF-8 */

static void *val_ptr(int v)
{
    return &g_vals[v];
}
static int val_id(void *p)
{
    return p ? (int)((char *)p - g_vals) : -1;
}

static int m_get(const model *m, const uint8_t *k, size_t len)
{
    const model_entry *e = model_find(m, k, len);
    return e ? val_id(e->val) : -1;
}

static void m_insert_at(model *m, size_t i, const uint8_t *k, size_t len, int v)
{
    model_insert_at(m, i, k, len, val_ptr(v));
}

/* Index of the expected seek result, or (size_t)-1 for none. */
static size_t m_seek(const model *m, const uint8_t *k, size_t len,
                     art_seek_mode mode)
{
    size_t i = model_seek(m, k, len, mode);
    return i < m->n ? i : (size_t)-1;
}

/*
 * After every operation: the version moved forward exactly when the
 * structure changed (structural 2: an empty tree stayed empty, where
 * either is right), and a mutated tree still validates and holds as many
 * keys as the model.
 */
static void note_tree(int t, int structural)
{
    art_tree *T = &g_t[t];
    if (structural == 2) /* may or may not have changed: an empty tree */
        structural = T->version != g_version[t];
    if (structural) {
        REQUIRE(T->version > g_version[t],
                "tree %d: structure changed but version stayed %llu", t,
                (unsigned long long)T->version);
        g_epoch[t]++;
    } else {
        REQUIRE(T->version == g_version[t],
                "tree %d: version moved from %llu to %llu without a change "
                "of structure",
                t, (unsigned long long)g_version[t],
                (unsigned long long)T->version);
    }
    g_version[t] = T->version;
}

static void validate(int t)
{
    const char *why = "?";
    int r = art_validate(&g_t[t], &why);
    REQUIRE(r == ART_OK, "tree %d: art_validate: %s", t, why);
    REQUIRE(g_t[t].size == g_m[t].n, "tree %d: size %zu, model has %zu", t,
            g_t[t].size, g_m[t].n);
}

/*
 * The allocation-failure contract: an operation may fail with ART_ENOMEM
 * only when an injected failure fired during it (the countdown was armed
 * and reached 0), and a failure that fired must be reported.
 */
static int injected(long before, const art_tree *T)
{
    return before > 0 && T->fail_countdown == 0;
}

static void check_nomem(int r, long before, const art_tree *T, const char *what)
{
    if (r == ART_ENOMEM)
        REQUIRE(injected(before, T),
                "%s: ART_ENOMEM without an injected failure (countdown %ld "
                "-> %ld)",
                what, before, T->fail_countdown);
    else
        REQUIRE(!injected(before, T),
                "%s: an injected allocation failure fired but the call "
                "returned %d",
                what, r);
}

/* Full comparison of a tree with its model through a fresh cursor and
   art_foreach; injection is suspended meanwhile. */
static int collect_visit(void *value, void *ctx);

typedef struct {
    int ids[MAX_KEYS];
    size_t n, stop_after;
} visit_log;

static visit_log g_log;

static void full_check(int t)
{
    art_tree *T = &g_t[t];
    const model *m = &g_m[t];
    long cd = T->fail_countdown;
    T->fail_countdown = 0;
    validate(t);
    art_cursor c;
    art_cursor_init(&c, T);
    size_t i = 0;
    int r;
    for (r = art_cursor_first(&c); r == 1; r = art_cursor_next(&c), i++) {
        REQUIRE(i < m->n, "tree %d: cursor walk yields more than %zu keys", t,
                m->n);
        REQUIRE(model_key_eq(c.key, c.key_len, m->a[i].key, m->a[i].len),
                "tree %d: key %zu of the walk differs from the model", t, i);
        REQUIRE(val_id(art_cursor_value(&c)) == val_id(m->a[i].val),
                "tree %d: value of key %zu is %d, model %d", t, i,
                val_id(art_cursor_value(&c)), val_id(m->a[i].val));
    }
    REQUIRE(r == 0, "tree %d: full walk returned %d", t, r);
    REQUIRE(i == m->n, "tree %d: walk yields %zu keys, model %zu", t, i, m->n);
    art_cursor_free(&c);
    g_log.n = 0;
    g_log.stop_after = (size_t)-1;
    REQUIRE(art_foreach(T, collect_visit, &g_log) == 0, "foreach stopped");
    REQUIRE(g_log.n == m->n, "foreach visited %zu, model %zu", g_log.n, m->n);
    for (i = 0; i < m->n; i++)
        REQUIRE(g_log.ids[i] == val_id(m->a[i].val),
                "foreach value %zu is %d, model %d", i, g_log.ids[i],
                val_id(m->a[i].val));
    T->fail_countdown = cd;
}

static void after_mutation(int t, int structural)
{
    note_tree(t, structural);
    validate(t);
    if (g_m[t].n <= 48)
        full_check(t);
}

/* ------------------------------------------------------------------ */
/* Keys from the input                                                 */
/* ------------------------------------------------------------------ */

static uint32_t read_sym(input *in)
{
    uint8_t b = u8(in);
    return g_utf8 ? g_cps[b & 31] : b;
}

/*
 * Builds a key for an operation on tree t.  The selector byte picks:
 *   0: 0..7 raw symbols;  3: 0..47 raw symbols;
 *   1: an existing key of tree t (or, bit 2, of the other tree);
 *   2: an existing key with one edit: append, drop the last one or two
 *      symbols, or substitute / insert / delete a symbol at a position.
 */
static size_t get_key(input *in, int t, uint8_t *out)
{
    static uint32_t syms[MAX_SYMS + 2];
    uint8_t sel = u8(in);
    size_t n = 0;
    switch (sel & 3) {
    case 0:
    case 3: {
        size_t want = (sel & 3) == 0 ? (size_t)((sel >> 2) & 7) : u8(in) % 48;
        for (size_t i = 0; i < want; i++)
            syms[n++] = read_sym(in);
        break;
    }
    default: {
        const model *m = &g_m[(sel & 3) == 1 && (sel & 4) ? !t : t];
        uint8_t idx = u8(in);
        if (m->n) {
            const model_entry *e = &m->a[(idx * (size_t)257) % m->n];
            n = model_symbols(e->key, e->len, g_utf8, syms);
        }
        if ((sel & 3) == 1)
            break;
        size_t edit = (sel >> 2) % 6, pos = n ? u8(in) % (n + 1) : 0;
        switch (edit) {
        case 0:
            if (n < MAX_SYMS)
                syms[n++] = read_sym(in);
            break;
        case 1:
            n = n >= 1 ? n - 1 : 0;
            break;
        case 2:
            n = n >= 2 ? n - 2 : 0;
            break;
        case 3:
            if (pos < n)
                syms[pos] = read_sym(in);
            break;
        case 4:
            if (n < MAX_SYMS) {
                memmove(&syms[pos + 1], &syms[pos],
                        (n - pos) * sizeof(uint32_t));
                syms[pos] = read_sym(in);
                n++;
            }
            break;
        default:
            if (pos < n) {
                memmove(&syms[pos], &syms[pos + 1],
                        (n - pos - 1) * sizeof(uint32_t));
                n--;
            }
            break;
        }
        break;
    }
    }
    return from_syms(syms, n, g_utf8, out);
}

/* ------------------------------------------------------------------ */
/* Cursors and the fuzzy search                                        */
/* ------------------------------------------------------------------ */

typedef struct {
    art_cursor c;
    int t;   /* the tree it is on */
    int pos; /* positioned on key[0..len) */
    uint8_t key[KEY_BUF];
    size_t len;
    uint64_t epoch; /* model epoch when it last moved */
} mcursor;

static mcursor g_c[NCURSORS];

typedef struct {
    art_fuzzy f;
    int active, t, utf8, flags, exact, has_last;
    uint32_t q[QUERY_SYMS];
    size_t qlen;
    uint32_t maxd;
    uint8_t last[KEY_BUF];
    size_t last_len;
} mfuzzy;

static mfuzzy g_f;

static const char *const g_mode_names[4] = {"GE", "GT", "LE", "LT"};

/*
 * Checks the result r of a cursor move against the model's expectation
 * (entry index, or (size_t)-1 for "no key"), then records the position.
 * before_cd is the tree's countdown before the call.
 */
static void cursor_result(mcursor *C, int r, size_t want, long before_cd,
                          const char *what)
{
    art_tree *T = &g_t[C->t];
    const model *m = &g_m[C->t];
    check_nomem(r, before_cd, T, what);
    if (r == ART_ENOMEM) {
        REQUIRE(C->c.at == 0, "%s: cursor still positioned after ENOMEM", what);
        C->pos = 0;
        trace("    -> ENOMEM (injected)\n");
        return;
    }
    if (want == (size_t)-1) {
        if (r != 0)
            trace_key("    unexpected key ", C->c.key, C->c.key_len);
        REQUIRE(r == 0, "%s: expected no key, got %d", what, r);
        REQUIRE(C->c.at == 0, "%s: no key but cursor positioned", what);
        C->pos = 0;
        trace("    -> none\n");
        return;
    }
    const model_entry *e = &m->a[want];
    if (r != 1 || !model_key_eq(C->c.key, C->c.key_len, e->key, e->len)) {
        trace_key("    expected ", e->key, e->len);
        if (r == 1)
            trace_key("\n    got ", C->c.key, C->c.key_len);
        trace("\n");
    }
    REQUIRE(r == 1, "%s: expected key #%zu (len %zu), got %d", what, want,
            e->len, r);
    REQUIRE(model_key_eq(C->c.key, C->c.key_len, e->key, e->len),
            "%s: expected key #%zu (len %zu), cursor has a key of len %zu",
            what, want, e->len, C->c.key_len);
    REQUIRE(val_id(art_cursor_value(&C->c)) == val_id(e->val),
            "%s: value %d, model %d", what, val_id(art_cursor_value(&C->c)),
            val_id(e->val));
    /* changed_from: the new key shares its first changed_from bytes with
       the key before the move. */
    if (C->pos) {
        size_t cf = C->c.changed_from;
        REQUIRE(cf <= C->len && cf <= e->len &&
                    model_key_cmp(C->key, cf, e->key, cf) == 0,
                "%s: changed_from %zu wrong (old len %zu, new len %zu)", what,
                cf, C->len, e->len);
    }
    C->pos = 1;
    memcpy(C->key, e->key, e->len);
    C->len = e->len;
    C->epoch = g_epoch[C->t];
    trace_key("    -> ", e->key, e->len);
    trace("\n");
}

/* Distance of entry e to the query, or UINT32_MAX when above maxd. */
static uint32_t fuzzy_dist(const mfuzzy *F, const model_entry *e)
{
    static uint32_t syms[KEY_BUF];
    size_t n = model_symbols(e->key, e->len, F->utf8, syms);
    size_t diff = n > F->qlen ? n - F->qlen : F->qlen - n;
    if (diff > F->maxd && !(F->flags & ART_FUZZY_PREFIX))
        return UINT32_MAX;
    uint32_t rows[3 * (QUERY_SYMS + 1)], d;
    if (F->flags & (ART_FUZZY_TRANSPOSE | ART_FUZZY_PREFIX))
        d = model_distance(syms, n, F->q, F->qlen, F->flags, rows);
    else
        d = model_levenshtein(syms, n, F->q, F->qlen, rows);
    return d <= F->maxd ? d : UINT32_MAX;
}

/* ------------------------------------------------------------------ */
/* Operations                                                          */
/* ------------------------------------------------------------------ */

enum {
    OP_INSERT,
    OP_DELETE,
    OP_SEARCH,
    OP_BULK,
    OP_LONG,
    OP_SEEK,
    OP_STEP,
    OP_ENDS,
    OP_SKIP,
    OP_PREFIX,
    OP_COPY,
    OP_MOVE,
    OP_CLEAR,
    OP_FUZZY,
    OP_FUZZY_NEXT,
    OP_FAIL,
    OP_FOREACH,
    OP_REBIND,
    OP_BUILD,
    OP_COUNT
};

static void do_insert(int t, const uint8_t *k, size_t len, int v, int want_old)
{
    art_tree *T = &g_t[t];
    model *m = &g_m[t];
    int found;
    size_t i = model_lower(m, k, len, &found);
    if (!found && m->n >= MAX_KEYS)
        return;
    trace("  insert t%d ", t);
    trace_key("", k, len);
    trace(" -> v%d%s\n", v, want_old ? "" : " (old=NULL)");
    void *old = &g_vals[255];
    long cd = T->fail_countdown;
    void *value = v < 0 ? NULL : val_ptr(v);
    int r = art_insert(T, k, len, value, want_old ? &old : NULL);
    if (v < 0) {
        REQUIRE(r == ART_EINVAL, "insert of a NULL value returned %d", r);
        REQUIRE(!want_old || old == NULL, "EINVAL insert set *old");
        note_tree(t, 0);
        return;
    }
    check_nomem(r, cd, T, "insert");
    if (r == ART_ENOMEM) {
        trace("    -> ENOMEM (injected)\n");
        REQUIRE(!want_old || old == NULL, "failed insert set *old");
        after_mutation(t, 0);
        REQUIRE(val_id(art_search(T, k, len)) == m_get(m, k, len),
                "key changed by a failed insert");
        return;
    }
    if (found) {
        REQUIRE(r == 0, "insert of a present key returned %d", r);
        REQUIRE(!want_old || val_id(old) == val_id(m->a[i].val),
                "insert: old value %d, model %d", val_id(old),
                val_id(m->a[i].val));
        m->a[i].val = val_ptr(v);
        after_mutation(t, 0);
    } else {
        REQUIRE(r == 1, "insert of a new key returned %d", r);
        REQUIRE(!want_old || old == NULL, "insert of a new key set *old");
        m_insert_at(m, i, k, len, v);
        after_mutation(t, 1);
    }
    REQUIRE(val_id(art_search(T, k, len)) == v, "inserted key not found");
}

static void do_delete(int t, const uint8_t *k, size_t len, int want_old)
{
    art_tree *T = &g_t[t];
    model *m = &g_m[t];
    int found;
    size_t i = model_lower(m, k, len, &found);
    trace("  delete t%d ", t);
    trace_key("", k, len);
    trace("%s\n", found ? "" : " (absent)");
    void *old = &g_vals[255];
    long cd = T->fail_countdown;
    int r = art_delete(T, k, len, want_old ? &old : NULL);
    check_nomem(r, cd, T, "delete");
    if (r == ART_ENOMEM) {
        trace("    -> ENOMEM (injected)\n");
        REQUIRE(found, "ENOMEM deleting an absent key");
        after_mutation(t, 0);
        REQUIRE(val_id(art_search(T, k, len)) == val_id(m->a[i].val),
                "key lost by a failed delete");
        return;
    }
    if (found) {
        REQUIRE(r == 1, "delete of a present key returned %d", r);
        REQUIRE(!want_old || val_id(old) == val_id(m->a[i].val),
                "delete: old value %d, model %d", val_id(old),
                val_id(m->a[i].val));
        model_remove_at(m, i);
        after_mutation(t, 1);
    } else {
        REQUIRE(r == 0, "delete of an absent key returned %d", r);
        REQUIRE(!want_old || old == NULL, "delete of an absent key set *old");
        after_mutation(t, 0);
    }
    REQUIRE(art_search(T, k, len) == NULL, "deleted key still found");
}

static void op_search(input *in, uint8_t a)
{
    static uint8_t k[KEY_BUF];
    int t = a & 1;
    size_t len = get_key(in, t, k);
    art_tree *T = &g_t[t];
    model *m = &g_m[t];
    int found;
    size_t i = model_lower(m, k, len, &found);
    long cd = T->fail_countdown;
    trace("  search t%d ", t);
    trace_key("", k, len);
    trace("\n");
    void *v = art_search(T, k, len);
    void **slot = art_search_slot(T, k, len);
    REQUIRE(val_id(v) == (found ? val_id(m->a[i].val) : -1),
            "search: value %d, model %d", val_id(v),
            found ? val_id(m->a[i].val) : -1);
    REQUIRE((slot != NULL) == found, "search_slot: %s slot",
            slot ? "unexpected" : "missing");
    REQUIRE(!slot || *slot == v, "search_slot disagrees with search");
    if (slot && (a & 2)) {
        /* Replacing a value through the slot is not a change of
           structure: cursors keep their positions. */
        int nv = u8(in) % 255;
        trace("    write v%d through the slot\n", nv);
        *slot = val_ptr(nv);
        m->a[i].val = val_ptr(nv);
    }
    REQUIRE(T->fail_countdown == cd, "search allocated");
    note_tree(t, 0);
}

static void op_bulk(input *in, uint8_t a)
{
    static uint8_t prefix[KEY_BUF], k[KEY_BUF + 8];
    int t = a & 1, del = (a >> 1) & 1, with_suffix = (a >> 2) & 1;
    size_t plen = get_key(in, t, prefix);
    uint8_t first = u8(in);
    size_t count = (size_t)u8(in) + 1;
    uint32_t base = g_bulk_base[(a >> 3) & 3];
    uint32_t suffix = with_suffix ? read_sym(in) : 0;
    if (plen > KEY_LIMIT - 8)
        plen = 0;
    trace("  bulk %s t%d count %zu first %u%s ", del ? "delete" : "insert", t,
          count, first, with_suffix ? " with suffix" : "");
    trace_key("prefix ", prefix, plen);
    trace("\n");
    memcpy(k, prefix, plen);
    for (size_t i = 0; i < count; i++) {
        size_t len = plen;
        uint8_t b = (uint8_t)(first + i);
        if (g_utf8)
            len += utf8_encode(base + b, k + len);
        else
            k[len++] = b;
        if (with_suffix) {
            if (g_utf8)
                len += utf8_encode(suffix, k + len);
            else
                k[len++] = (uint8_t)suffix;
        }
        if (del)
            do_delete(t, k, len, (int)(i & 1));
        else
            do_insert(t, k, len, (int)((first + i) % 255), (int)(i & 1));
    }
}

static void op_long(input *in, uint8_t a)
{
    static uint8_t k[KEY_BUF + 8];
    int t = a & 1;
    size_t len = get_key(in, t, k);
    uint32_t sym = read_sym(in);
    size_t reps = (size_t)u8(in) * 4 + (a >> 2);
    uint8_t enc[4];
    size_t w = 1;
    if (g_utf8)
        w = utf8_encode(sym, enc);
    else
        enc[0] = (uint8_t)sym;
    for (size_t i = 0; i < reps && len + w <= KEY_LIMIT; i++) {
        memcpy(k + len, enc, w);
        len += w;
    }
    if (a & 2)
        do_delete(t, k, len, 1);
    else
        do_insert(t, k, len, (int)(reps % 255), 1);
}

static void op_seek(input *in, uint8_t a)
{
    static uint8_t k[KEY_BUF];
    mcursor *C = &g_c[a & 1];
    art_seek_mode mode = (art_seek_mode)((a >> 1) & 3);
    size_t len = get_key(in, C->t, k);
    art_tree *T = &g_t[C->t];
    trace("  cursor %d (t%d) seek %s ", a & 1, C->t, g_mode_names[mode]);
    trace_key("", k, len);
    trace("\n");
    size_t want = m_seek(&g_m[C->t], k, len, mode);
    long cd = T->fail_countdown;
    int r = art_cursor_seek(&C->c, k, len, mode);
    cursor_result(C, r, want, cd, "seek");
    note_tree(C->t, 0);
}

/* Expected index of next (forward) or prev from the cursor's state. */
static size_t step_target(const mcursor *C, int forward)
{
    const model *m = &g_m[C->t];
    if (!C->pos)
        return m->n == 0 ? (size_t)-1 : forward ? 0 : m->n - 1;
    return m_seek(m, C->key, C->len, forward ? ART_SEEK_GT : ART_SEEK_LT);
}

static void check_cursor_value(const mcursor *C)
{
    const model *m = &g_m[C->t];
    if (!C->pos || C->epoch != g_epoch[C->t])
        return;
    int v = m_get(m, C->key, C->len);
    REQUIRE(v >= 0, "cursor on an unchanged tree sits on an absent key");
    REQUIRE(val_id(art_cursor_value(&C->c)) == v,
            "cursor value %d on an unchanged tree, model %d",
            val_id(art_cursor_value(&C->c)), v);
}

static void op_step(uint8_t a)
{
    mcursor *C = &g_c[a & 1];
    int forward = (a >> 1) & 1;
    size_t steps = 1 + ((a >> 2) & 7);
    art_tree *T = &g_t[C->t];
    for (size_t s = 0; s < steps; s++) {
        trace("  cursor %d (t%d) %s%s\n", a & 1, C->t,
              forward ? "next" : "prev",
              C->pos && C->epoch != g_epoch[C->t] ? " (tree changed)" : "");
        check_cursor_value(C);
        size_t want = step_target(C, forward);
        long cd = T->fail_countdown;
        int r = forward ? art_cursor_next(&C->c) : art_cursor_prev(&C->c);
        cursor_result(C, r, want, cd, forward ? "next" : "prev");
        note_tree(C->t, 0);
    }
}

static void op_ends(uint8_t a)
{
    mcursor *C = &g_c[a & 1];
    int forward = (a >> 1) & 1;
    art_tree *T = &g_t[C->t];
    const model *m = &g_m[C->t];
    trace("  cursor %d (t%d) %s\n", a & 1, C->t, forward ? "first" : "last");
    size_t want = m->n == 0 ? (size_t)-1 : forward ? 0 : m->n - 1;
    long cd = T->fail_countdown;
    int r = forward ? art_cursor_first(&C->c) : art_cursor_last(&C->c);
    C->pos = 0; /* a seek: changed_from is not compared */
    cursor_result(C, r, want, cd, forward ? "first" : "last");
    note_tree(C->t, 0);
}

static void op_skip(input *in, uint8_t a)
{
    mcursor *C = &g_c[a & 1];
    uint8_t sel = u8(in);
    const model *m = &g_m[C->t];
    /* Defined only on a positioned cursor over an unchanged tree. */
    if (!C->pos || C->epoch != g_epoch[C->t])
        return;
    size_t n = sel % (C->len + 1);
    art_tree *T = &g_t[C->t];
    trace("  cursor %d (t%d) skip %zu\n", a & 1, C->t, n);
    check_cursor_value(C);
    size_t i = m_seek(m, C->key, C->len, ART_SEEK_GT);
    while (i != (size_t)-1 && i < m->n &&
           model_starts_with(m->a[i].key, m->a[i].len, C->key, n))
        i++;
    if (i >= m->n)
        i = (size_t)-1;
    long cd = T->fail_countdown;
    int r = art_cursor_skip(&C->c, n);
    cursor_result(C, r, i, cd, "skip");
    note_tree(C->t, 0);
}

static void op_prefix(input *in, uint8_t a)
{
    static uint8_t k[KEY_BUF];
    int t = a & 1;
    size_t len = get_key(in, t, k);
    size_t min_len = u8(in) % (len + 2);
    art_tree *T = &g_t[t];
    const model *m = &g_m[t];
    long cd = T->fail_countdown;
    trace("  prefixes t%d min_len %zu ", t, min_len);
    trace_key("of ", k, len);
    trace("\n");
    int want_least = -1, want_longest = -1;
    size_t least_len = 0, longest_len = 0;
    for (size_t i = min_len; i <= len; i++) {
        int v = m_get(m, k, i);
        if (v >= 0) {
            want_least = v;
            least_len = i;
            break;
        }
    }
    for (size_t i = len + 1; i-- > 0;) {
        int v = m_get(m, k, i);
        if (v >= 0) {
            want_longest = v;
            longest_len = i;
            break;
        }
    }
    size_t fl = (size_t)-7;
    void *v = art_prefix_at_least(T, k, len, min_len, &fl);
    REQUIRE(val_id(v) == want_least,
            "prefix_at_least: value %d, model %d (length %zu)", val_id(v),
            want_least, least_len);
    REQUIRE(!v || fl == least_len, "prefix_at_least: length %zu, model %zu", fl,
            least_len);
    fl = (size_t)-7;
    v = art_longest_prefix(T, k, len, &fl);
    REQUIRE(val_id(v) == want_longest,
            "longest_prefix: value %d, model %d (length %zu)", val_id(v),
            want_longest, longest_len);
    REQUIRE(!v || fl == longest_len, "longest_prefix: length %zu, model %zu",
            fl, longest_len);
    REQUIRE(T->fail_countdown == cd, "prefix walk allocated");
    note_tree(t, 0);
}

/* A text made of up to eight keys (existing, edited or raw, so that
   matches overlap, nest and straddle), scanned to its end in the mode
   the argument picks, every step against the model's brute force. */
static void op_scan(input *in, uint8_t a)
{
    static uint8_t text[8 * KEY_BUF], k[KEY_BUF];
    int t = a & 1;
    unsigned flags = ((a >> 1) & 1 ? ART_SCAN_OVERLAPPING : 0) |
                     ((a >> 2) & 1 ? ART_SCAN_WHOLE_WORDS : 0) |
                     (g_utf8 ? ART_SCAN_UTF8 : 0);
    size_t len = 0, parts = 1 + u8(in) % 8;
    for (size_t i = 0; i < parts; i++) {
        size_t n = get_key(in, t, k);
        memcpy(text + len, k, n);
        len += n;
    }
    /* The model compares every key at every start: a short text keeps an
       input fast (a long match is still possible: the text is cut, not
       its keys). */
    if (len > SCAN_TEXT)
        len = SCAN_TEXT;
    art_tree *T = &g_t[t];
    long cd = T->fail_countdown;
    trace("  scan t%d flags %u ", t, flags);
    trace_key("text ", text, len);
    trace("\n");
    art_scan s, ref;
    art_scan_init(&s, text, len, flags, NULL);
    art_scan_init(&ref, text, len, flags, NULL);
    for (;;) {
        size_t s1 = 0, e1 = 0, s2 = 0, e2 = 0;
        void *v1 = NULL, *v2 = NULL;
        int r1 = art_scan_next(&s, T, &s1, &e1, &v1);
        int r2 = model_scan_next(&g_m[t], &ref, &s2, &e2, &v2);
        REQUIRE(r1 == r2, "scan: %s, model %s", r1 ? "a match" : "the end",
                r2 ? "a match" : "the end");
        if (!r1)
            break;
        REQUIRE(s1 == s2 && e1 == e2 && v1 == v2,
                "scan: [%zu, %zu) value %d, model [%zu, %zu) value %d", s1, e1,
                val_id(v1), s2, e2, val_id(v2));
    }
    REQUIRE(T->fail_countdown == cd, "scan allocated");
}

typedef struct {
    size_t calls;
    uint64_t sum;
} tally;

static void tally_value(void *value, void *ctx)
{
    tally *ty = ctx;
    ty->calls++;
    ty->sum += (uint64_t)val_id(value);
}

static void clear_tree(int t)
{
    art_tree *T = &g_t[t];
    model *m = &g_m[t];
    tally ty = {0, 0};
    uint64_t sum = 0;
    long cd = T->fail_countdown;
    for (size_t i = 0; i < m->n; i++)
        sum += (uint64_t)val_id(m->a[i].val);
    trace("  clear t%d (%zu keys)\n", t, m->n);
    art_tree_clear(T, tally_value, &ty);
    REQUIRE(ty.calls == m->n && ty.sum == sum,
            "clear: %zu callbacks, model has %zu keys", ty.calls, m->n);
    REQUIRE(T->fail_countdown == cd, "clear allocated");
    REQUIRE(T->root == 0 && T->size == 0 && T->bytes == 0,
            "clear left a non-empty tree");
    model_clear(m);
    after_mutation(t, 1);
}

static void op_copy(input *in, uint8_t a)
{
    int s = a & 1, d = !s;
    art_tree *S = &g_t[s], *D = &g_t[d];
    model *ms = &g_m[s], *md = &g_m[d];
    uint8_t arm = u8(in);
    /* "dst must be empty": a tree emptied by deletions is empty too. */
    if (!((a & 2) && md->n == 0))
        clear_tree(d);
    if (arm & 1) {
        D->fail_countdown = 1 + (arm >> 1) % 48;
        trace("  arm t%d countdown %ld\n", d, D->fail_countdown);
    }
    trace("  copy t%d (%zu keys) into t%d\n", s, ms->n, d);
    long cd = D->fail_countdown, scd = S->fail_countdown;
    int r = art_tree_copy(D, S);
    check_nomem(r, cd, D, "copy");
    REQUIRE(S->fail_countdown == scd, "copy used the source's countdown");
    note_tree(s, 0);
    validate(s);
    if (r == ART_ENOMEM) {
        trace("    -> ENOMEM (injected)\n");
        REQUIRE(D->root == 0 && D->size == 0, "failed copy left keys");
        after_mutation(d, 2); /* dst was empty and is empty again */
        return;
    }
    REQUIRE(r == ART_OK, "copy returned %d", r);
    for (size_t i = 0; i < ms->n; i++)
        m_insert_at(md, i, ms->a[i].key, ms->a[i].len, val_id(ms->a[i].val));
    note_tree(d, ms->n > 0);
    full_check(d);
}

/*
 * Builds tree d from tree s's keys in order (art_build_*), refusing now
 * and then a key out of order on the way (a repeat of the previous one,
 * or the one before it), with an injected allocation failure when armed.
 */
static void op_build(input *in, uint8_t a)
{
    int s = a & 1, d = !s;
    art_tree *D = &g_t[d];
    model *ms = &g_m[s], *md = &g_m[d];
    uint8_t arm = u8(in), refuse = u8(in);
    if (!((a & 2) && md->n == 0))
        clear_tree(d);
    if (arm & 1) {
        D->fail_countdown = 1 + (arm >> 1) % 64;
        trace("  arm t%d countdown %ld\n", d, D->fail_countdown);
    }
    trace("  build t%d from t%d's %zu keys\n", d, s, ms->n);
    long cd = D->fail_countdown;
    art_builder b;
    art_build_init(&b, D);
    int r = ART_OK;
    for (size_t i = 0; i < ms->n && r == ART_OK; i++) {
        const model_entry *e = &ms->a[i];
        if (i && refuse && i % refuse == 0) {
            const model_entry *back = &ms->a[i - 1 - (i >= 2 && (refuse & 1))];
            int rr = art_build_add(&b, back->key, back->len, back->val);
            REQUIRE(rr == ART_EINVAL, "build took a key out of order (%d)", rr);
        }
        r = art_build_add(&b, e->key, e->len, e->val);
        REQUIRE(r == ART_OK || r == ART_ENOMEM, "build add returned %d", r);
        REQUIRE(D->root == 0 && D->size == 0, "build linked keys early");
    }
    if (r == ART_OK)
        r = art_build_finish(&b);
    check_nomem(r, cd, D, "build");
    if (r == ART_ENOMEM) {
        art_build_abort(&b);
        trace("    -> ENOMEM (injected)\n");
        REQUIRE(D->root == 0 && D->size == 0 && D->bytes == 0,
                "failed build left keys");
        after_mutation(d, 2);
        return;
    }
    REQUIRE(r == ART_OK, "build returned %d", r);
    for (size_t i = 0; i < ms->n; i++)
        m_insert_at(md, i, ms->a[i].key, ms->a[i].len, val_id(ms->a[i].val));
    note_tree(d, ms->n > 0);
    full_check(d);
}

static void op_move(uint8_t a)
{
    int s = a & 1, d = !s;
    model *ms = &g_m[s], *md = &g_m[d];
    clear_tree(d);
    trace("  move t%d (%zu keys) into t%d\n", s, ms->n, d);
    art_tree_move(&g_t[d], &g_t[s]);
    model_move(md, ms);
    note_tree(s, 1);
    note_tree(d, 1);
    validate(s);
    full_check(d);
}

static void fuzzy_stop(void)
{
    if (g_f.active)
        art_fuzzy_free(&g_f.f);
    g_f.active = 0;
}

/*
 * The n closest keys to g_f's query (set up by op_fuzzy, not started)
 * against the model: every entry within the bound, ordered by (distance,
 * key), the first n.  The search runs to its end, through its pauses.
 */
static void op_closest(const uint8_t *k, size_t len, size_t n, size_t slice)
{
    art_tree *T = &g_t[g_f.t];
    const model *m = &g_m[g_f.t];
    art_closest c;
    trace("    closest n %zu slice %zu\n", n, slice);
    long cd = T->fail_countdown;
    int r = art_closest_init(&c, T, k, len, n, g_f.maxd, g_f.flags);
    if (r == ART_OK) {
        c.slice = slice;
        for (size_t pauses = 0; (r = art_closest_run(&c)) == ART_EAGAIN;
             pauses++)
            REQUIRE(pauses < 100000000, "closest paused for ever");
    }
    check_nomem(r, cd, T, "closest");
    note_tree(g_f.t, 0);
    if (r == ART_ENOMEM) {
        trace("    -> ENOMEM (injected)\n");
        art_closest_free(&c);
        return;
    }
    REQUIRE(r == ART_OK, "closest returned %d", r);
    REQUIRE(c.nhits <= n, "closest: %zu hits for n %zu", c.nhits, n);
    /* The reference: the entries within the bound by (distance, key),
       picked one after another (n is small). */
    static uint32_t dist[MAX_KEYS];
    size_t got = 0, last = SIZE_MAX;
    for (size_t i = 0; i < m->n; i++)
        dist[i] = fuzzy_dist(&g_f, &m->a[i]);
    for (; got < n; got++) {
        size_t pick = SIZE_MAX;
        for (size_t i = 0; i < m->n; i++) {
            if (dist[i] == UINT32_MAX)
                continue;
            int after_last = last == SIZE_MAX || dist[i] > dist[last] ||
                             (dist[i] == dist[last] && i > last);
            if (after_last && (pick == SIZE_MAX || dist[i] < dist[pick] ||
                               (dist[i] == dist[pick] && i < pick)))
                pick = i;
        }
        if (pick == SIZE_MAX)
            break;
        last = pick;
        if (!g_f.exact)
            continue; /* only the count is promised */
        size_t klen;
        REQUIRE(got < c.nhits, "closest: %zu hits, model has more", c.nhits);
        const uint8_t *key = art_closest_key(&c, got, &klen);
        const model_entry *e = &m->a[pick];
        if (!model_key_eq(key, klen, e->key, e->len)) {
            trace_key("    expected ", e->key, e->len);
            trace_key("\n    got ", key, klen);
            trace("\n");
        }
        REQUIRE(model_key_eq(key, klen, e->key, e->len),
                "closest: hit %zu is not the model's key #%zu", got, pick);
        REQUIRE(c.hits[got].distance == dist[pick] &&
                    val_id(c.hits[got].value) == val_id(e->val),
                "closest: hit %zu distance %u value %d, model %u %d", got,
                c.hits[got].distance, val_id(c.hits[got].value), dist[pick],
                val_id(e->val));
    }
    REQUIRE(c.nhits == got, "closest: %zu hits, model %zu", c.nhits, got);
    trace("    -> %zu hits\n", got);
    art_closest_free(&c);
}

static void op_fuzzy(input *in, uint8_t a)
{
    static const uint32_t maxds[8] = {0, 1, 2, 3, 1, 2, 5, UINT32_MAX};
    static uint8_t k[KEY_BUF];
    static uint32_t syms[KEY_BUF];
    int t = a & 1, utf8 = (a >> 1) & 1;
    uint32_t maxd = maxds[(a >> 2) & 7];
    /* The variants: bit 0 transpositions, bit 1 prefixes; bit 2 makes it
       a search for the n closest keys instead, n = the bits above. */
    uint8_t v = u8(in);
    int flags = utf8 | (v & 1 ? ART_FUZZY_TRANSPOSE : 0) |
                (v & 2 ? ART_FUZZY_PREFIX : 0);
    size_t len = get_key(in, t, k);
    size_t n = model_symbols(k, len, utf8, syms);
    if (n > QUERY_SYMS) {
        len = sym_offset(k, len, utf8, QUERY_SYMS);
        n = QUERY_SYMS;
    }
    fuzzy_stop();
    art_tree *T = &g_t[t];
    trace("  fuzzy t%d %s max_distance %lu flags %d ", t,
          utf8 ? "utf8" : "bytes", (unsigned long)maxd, flags);
    trace_key("query ", k, len);
    trace("\n");
    /* Slices of work per call, down to one unit: every pause and resume. */
    static const size_t slices[8] = {
        ART_FUZZY_SLICE, ART_FUZZY_SLICE, 0, 1, 3, 40, 300, 5000};
    g_f.t = t;
    g_f.utf8 = utf8;
    g_f.flags = flags;
    /* Exact checks need keys the decoder reads as the model does: always
       for bytes, for UTF-8 only when every key is valid UTF-8. */
    g_f.exact = !utf8 || g_utf8;
    g_f.has_last = 0;
    g_f.maxd = maxd;
    g_f.qlen = n;
    memcpy(g_f.q, syms, n * sizeof(uint32_t));
    if (v & 4) {
        op_closest(k, len, (size_t)(v >> 3), slices[a >> 5]);
        return;
    }
    long cd = T->fail_countdown;
    int r = art_fuzzy_init(&g_f.f, T, k, len, maxd, flags);
    check_nomem(r, cd, T, "fuzzy_init");
    if (r == ART_ENOMEM) {
        trace("    -> ENOMEM (injected)\n");
        art_fuzzy_free(&g_f.f); /* the binding frees a failed search too */
        note_tree(t, 0);
        return;
    }
    REQUIRE(r == ART_OK, "fuzzy_init returned %d", r);
    g_f.f.slice = slices[a >> 5];
    trace("    slice %zu\n", g_f.f.slice);
    g_f.active = 1;
    note_tree(t, 0);
}

static void op_fuzzy_next(uint8_t a)
{
    size_t steps = 1 + ((a >> 1) & 15);
    for (size_t s = 0; s < steps && g_f.active; s++) {
        art_tree *T = &g_t[g_f.t];
        const model *m = &g_m[g_f.t];
        size_t i = g_f.has_last ? m_seek(m, g_f.last, g_f.last_len, ART_SEEK_GT)
                                : (m->n ? 0 : (size_t)-1);
        uint32_t d = UINT32_MAX;
        if (g_f.exact)
            for (; i != (size_t)-1 && i < m->n; i++)
                if ((d = fuzzy_dist(&g_f, &m->a[i])) != UINT32_MAX)
                    break;
        if (i >= m->n)
            i = (size_t)-1;
        trace("  fuzzy next (t%d)\n", g_f.t);
        long cd = T->fail_countdown;
        int r = art_fuzzy_next(&g_f.f);
        /* Paused: go on at once (bit 0), or leave it paused for the
           operations that follow, which may change the tree. */
        for (size_t pauses = 0; r == ART_EAGAIN && (a & 1); pauses++) {
            REQUIRE(pauses < 100000000, "fuzzy_next paused for ever");
            r = art_fuzzy_next(&g_f.f);
        }
        check_nomem(r, cd, T, "fuzzy_next");
        note_tree(g_f.t, 0);
        if (r == ART_EAGAIN) {
            trace("    -> paused\n");
            return;
        }
        if (r == ART_ENOMEM) {
            trace("    -> ENOMEM (injected)\n");
            fuzzy_stop();
            return;
        }
        const art_cursor *c = &g_f.f.cursor;
        if (!g_f.exact) {
            /* Invalid UTF-8 under utf8 distances: only order and
               membership are promised. */
            REQUIRE(r == 0 || r == 1, "fuzzy_next returned %d", r);
            if (r == 0) {
                fuzzy_stop();
                return;
            }
            REQUIRE(m_get(m, c->key, c->key_len) >= 0,
                    "fuzzy_next yields an absent key");
            REQUIRE(!g_f.has_last || model_key_cmp(g_f.last, g_f.last_len,
                                                   c->key, c->key_len) < 0,
                    "fuzzy_next not in ascending order");
        } else if (i == (size_t)-1) {
            if (r == 1)
                trace_key("    unexpected ", c->key, c->key_len);
            REQUIRE(r == 0, "fuzzy_next: expected the end, got %d", r);
            trace("    -> done\n");
            fuzzy_stop();
            return;
        } else {
            const model_entry *e = &m->a[i];
            if (r != 1 || !model_key_eq(c->key, c->key_len, e->key, e->len)) {
                trace_key("    expected ", e->key, e->len);
                if (r == 1)
                    trace_key("\n    got ", c->key, c->key_len);
                trace("\n");
            }
            REQUIRE(r == 1,
                    "fuzzy_next: expected key #%zu (distance %u), "
                    "got %d",
                    i, d, r);
            REQUIRE(model_key_eq(c->key, c->key_len, e->key, e->len),
                    "fuzzy_next: expected key #%zu (len %zu, distance %u), "
                    "got a key of len %zu (distance %u)",
                    i, e->len, d, c->key_len, g_f.f.distance);
            REQUIRE(g_f.f.distance == d, "fuzzy_next: distance %u, model %u",
                    g_f.f.distance, d);
            trace_key("    -> ", e->key, e->len);
            trace(" distance %u\n", d);
        }
        if (c->key_len)
            memcpy(g_f.last, c->key, c->key_len);
        g_f.last_len = c->key_len;
        g_f.has_last = 1;
    }
}

static int collect_visit(void *value, void *ctx)
{
    visit_log *log = ctx;
    log->ids[log->n++] = val_id(value);
    return log->n > log->stop_after ? 7 : 0;
}

static void op_foreach(input *in, uint8_t a)
{
    int t = a & 1;
    art_tree *T = &g_t[t];
    const model *m = &g_m[t];
    size_t stop = u8(in);
    long cd = T->fail_countdown;
    trace("  foreach t%d stop after %zu\n", t, stop + 1);
    g_log.n = 0;
    g_log.stop_after = stop;
    int r = art_foreach(T, collect_visit, &g_log);
    size_t want = m->n > stop + 1 ? stop + 1 : m->n;
    REQUIRE(r == (m->n > stop ? 7 : 0), "foreach returned %d", r);
    REQUIRE(g_log.n == want, "foreach visited %zu, expected %zu", g_log.n,
            want);
    for (size_t i = 0; i < want; i++)
        REQUIRE(g_log.ids[i] == val_id(m->a[i].val),
                "foreach value %zu: %d, model %d", i, g_log.ids[i],
                val_id(m->a[i].val));
    art_stats_t st;
    art_stats(T, &st);
    REQUIRE(st.leaves + st.node_values + st.bucket_keys == m->n &&
                st.bytes == T->bytes,
            "stats: %zu leaves + %zu node values + %zu in buckets for %zu "
            "keys",
            st.leaves, st.node_values, st.bucket_keys, m->n);
    REQUIRE(T->fail_countdown == cd, "foreach/stats allocated");
    note_tree(t, 0);
}

static void op_rebind(uint8_t a)
{
    mcursor *C = &g_c[a & 1];
    int t = (a >> 1) & 1;
    trace("  cursor %d: free, init on t%d\n", a & 1, t);
    art_cursor_free(&C->c);
    art_cursor_init(&C->c, &g_t[t]);
    C->t = t;
    C->pos = 0;
}

static void run_op(input *in)
{
    static uint8_t k[KEY_BUF];
    uint8_t op = u8(in) % OP_COUNT, a = u8(in);
    switch (op) {
    case OP_INSERT: {
        int t = a & 1;
        size_t len = get_key(in, t, k);
        uint8_t v = u8(in);
        do_insert(t, k, len, v == 255 ? -1 : v, (a >> 1) & 1);
        break;
    }
    case OP_DELETE: {
        int t = a & 1;
        size_t len = get_key(in, t, k);
        do_delete(t, k, len, (a >> 1) & 1);
        break;
    }
    case OP_SEARCH:
        op_search(in, a);
        break;
    case OP_BULK:
        op_bulk(in, a);
        break;
    case OP_LONG:
        op_long(in, a);
        break;
    case OP_SEEK:
        op_seek(in, a);
        break;
    case OP_STEP:
        op_step(a);
        break;
    case OP_ENDS:
        op_ends(a);
        break;
    case OP_SKIP:
        op_skip(in, a);
        break;
    case OP_PREFIX:
        /* The prefix walks, or (argument's high bit) a text scan on them. */
        if (a & 0x80)
            op_scan(in, a);
        else
            op_prefix(in, a);
        break;
    case OP_COPY:
        op_copy(in, a);
        break;
    case OP_MOVE:
        op_move(a);
        break;
    case OP_CLEAR:
        clear_tree(a & 1);
        break;
    case OP_FUZZY:
        op_fuzzy(in, a);
        break;
    case OP_FUZZY_NEXT:
        op_fuzzy_next(a);
        break;
    case OP_FAIL: {
        int t = a & 1;
        g_t[t].fail_countdown = (a >> 1) % 40;
        trace("  arm t%d countdown %ld\n", t, g_t[t].fail_countdown);
        break;
    }
    case OP_FOREACH:
        op_foreach(in, a);
        break;
    case OP_REBIND:
        op_rebind(a);
        break;
    default:
        op_build(in, a);
        break;
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    const char *e = getenv("FUZZ_ART_TRACE");
    g_trace = e && *e && *e != '0';
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    input in = {data, size, 0};
    size_t live = art_live_allocations();
    /* The first byte: bit 0 UTF-8 keys, bits 1-3 the trees' bucket
       limits, small ones most often so that inputs burst and merge. */
    static const unsigned limits[8][2] = {{2, 16},  {3, 32},   {4, 64},
                                          {8, 256}, {2, 16},   {16, 128},
                                          {0, 0},   {64, 2048}};
    uint8_t first = u8(&in);
    g_utf8 = first & 1;
    const unsigned *lim = limits[(first >> 1) & 7];
    trace("input of %zu bytes, %s keys, buckets of %u keys and %u bytes\n",
          size, g_utf8 ? "UTF-8" : "byte", lim[0], lim[1]);
    for (int t = 0; t < NTREES; t++) {
        art_tree_init(&g_t[t]);
        art_tree_set_buckets(&g_t[t], lim[0], lim[1]);
        model_clear(&g_m[t]);
        g_epoch[t] = 0;
        g_version[t] = g_t[t].version;
    }
    for (int i = 0; i < NCURSORS; i++) {
        g_c[i].t = i % NTREES;
        g_c[i].pos = 0;
        art_cursor_init(&g_c[i].c, &g_t[g_c[i].t]);
    }
    g_f.active = 0;
    for (g_op = 0; more(&in); g_op++) {
        trace("op %lu:\n", g_op);
        run_op(&in);
    }
    trace("end: final checks\n");
    for (int t = 0; t < NTREES; t++) {
        g_t[t].fail_countdown = 0;
        full_check(t);
    }
    fuzzy_stop();
    for (int i = 0; i < NCURSORS; i++)
        art_cursor_free(&g_c[i].c);
    for (int t = 0; t < NTREES; t++)
        clear_tree(t);
#ifdef HAVE_LSAN_INTERFACE
    /* Let LeakSanitizer say where the leaked blocks were allocated. */
    if (art_live_allocations() != live)
        __lsan_do_recoverable_leak_check();
#endif
    REQUIRE(art_live_allocations() == live,
            "%zu blocks allocated at the start of the input, %zu at the end",
            live, art_live_allocations());
    return 0;
}
