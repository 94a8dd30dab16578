/*
 * art_fuzzy.c -- fuzzy search (art.h): a cursor walk over the tree whose
 * guard keeps one row of the edit-distance matrix per key offset and
 * prunes every subtree that cannot come within max_distance.
 */
#include "art.h"

#include <string.h>

#include "art_internal.h"

/* ------------------------------------------------------------------ */
/* Fuzzy search                                                        */
/* ------------------------------------------------------------------ */

/* Length of the UTF-8 sequence a lead byte starts; 1 for stray bytes. */
static inline size_t utf8_len(uint8_t b)
{
    if (b < 0xC0)
        return 1;
    if (b < 0xE0)
        return 2;
    if (b < 0xF0)
        return 3;
    return b < 0xF8 ? 4 : 1;
}

/* Decodes one symbol at s[0..avail): a byte, or a code point (lenient:
   the tree only ever holds what the binding encoded). */
static uint32_t next_symbol(const uint8_t *s, size_t avail, int utf8, size_t *n)
{
    if (!utf8) {
        *n = 1;
        return s[0];
    }
    size_t len = utf8_len(s[0]);
    if (len > avail)
        len = avail;
    uint32_t cp = len == 1 ? s[0] : (uint32_t)(s[0] & (0x7F >> len));
    for (size_t i = 1; i < len; i++)
        cp = (cp << 6) | (uint32_t)(s[i] & 0x3F);
    *n = len;
    return cp;
}

int art_fuzzy_init(art_fuzzy *f, art_tree *t, const uint8_t *query, size_t len,
                   uint32_t max_distance, int utf8)
{
    memset(f, 0, sizeof(*f));
    art_cursor_init(&f->cursor, t);
    f->next_at = SIZE_MAX;
    /* Only keys over a billion symbols long could tell larger bounds
       apart, and this one leaves the band arithmetic room. */
    f->max_distance = max_distance < ART_FUZZY_MAX_DISTANCE
                          ? max_distance
                          : ART_FUZZY_MAX_DISTANCE;
    f->utf8 = utf8;
    if (len >= SIZE_MAX / sizeof(uint32_t) / 2)
        return ART_ENOMEM;
    f->query = art__malloc(t, (len ? len : 1) * sizeof(uint32_t));
    if (f->query == NULL)
        return ART_ENOMEM;
    for (size_t i = 0, n; i < len; i += n)
        f->query[f->qlen++] = next_symbol(query + i, len - i, utf8, &n);
    size_t width = f->qlen + 2;
    if (art__grow(t, (void **)&f->rows, &f->rows_cap, width * 8,
                  sizeof(uint32_t)) < 0) {
        art_fuzzy_free(f);
        return ART_ENOMEM;
    }
    for (size_t j = 0; j <= f->qlen; j++)
        f->rows[j] = (uint32_t)j;
    f->rows[f->qlen + 1] = 0; /* the row's minimum */
    return ART_OK;
}

void art_fuzzy_free(art_fuzzy *f)
{
    art_cursor_free(&f->cursor);
    art__free(f->query);
    art__free(f->rows);
    f->query = NULL;
    f->rows = NULL;
    f->rows_cap = 0;
}

/* The columns [lo, hi] of the row for symbol count i that can be within
   max_distance: those within it of the diagonal (lo > hi: none). */
static inline void fuzzy_band(const art_fuzzy *f, uint32_t i, size_t *lo,
                              size_t *hi)
{
    uint32_t dmax = f->max_distance;
    *lo = i > dmax + 1 ? i - dmax : 1;
    *hi = (size_t)i + dmax < f->qlen ? (size_t)i + dmax : f->qlen;
}

/*
 * Brings the rows up to date for the cursor's key up to offset upto: all
 * of it when whole (a stored key, whose last symbol ends with it), else as
 * far as it holds whole symbols.  Returns 1 when every row computed is
 * within reach, or 0 with *cut set when the row after key[0..*cut) is the
 * first out of reach (no key starting with it can match), or ART_ENOMEM.
 */
static int fuzzy_extend(art_fuzzy *f, size_t upto, int whole, size_t *cut)
{
    art_cursor *c = &f->cursor;
    const uint8_t *key = c->key;
    size_t width = f->qlen + 2;
    size_t s =
        f->rows_valid < c->changed_from ? f->rows_valid : c->changed_from;
    if (s > upto)
        s = upto;
    /* Rows are kept at symbol boundaries only: back up to one. */
    if (f->utf8)
        while (s > 0 && s < upto && (key[s] & 0xC0) == 0x80)
            s--;
    c->changed_from = c->key_len;
    f->rows_valid = s;
    if (f->next_at > s)
        f->next_at = SIZE_MAX;
    while (s < upto) {
        size_t n;
        if (!whole && f->utf8 && utf8_len(key[s]) > upto - s)
            break; /* the symbol goes on below: judge it there */
        uint32_t sym = next_symbol(key + s, upto - s, f->utf8, &n);
        size_t had = f->rows_cap;
        if (art__grow(c->tree, (void **)&f->rows, &f->rows_cap,
                      (s + n + 1) * width, sizeof(uint32_t)) < 0)
            return ART_ENOMEM;
        /* Defined contents, so that a key that is not valid UTF-8 (from a
           damaged file) reads stale rows at worst, never undefined ones. */
        if (f->rows_cap > had)
            memset(f->rows + had, 0, (f->rows_cap - had) * sizeof(uint32_t));
        const uint32_t *prev = f->rows + s * width;
        uint32_t *row = f->rows + (s + n) * width;
        /* Only cells within max_distance of the diagonal can be within
           reach: the row computes the band j in [i - max, i + max] (i is
           the symbol count, held in column 0), and the cells just outside
           it get max + 1, a lower bound of their value that is out of
           reach too.  Cells in reach are exact; the others stay out. */
        uint32_t i = prev[0] + 1, dmax = f->max_distance;
        size_t lo, hi;
        fuzzy_band(f, i, &lo, &hi);
        uint32_t low = row[0] = i;
        if (lo > 1 && lo <= f->qlen + 1) /* (an empty band is out of reach) */
            row[lo - 1] = dmax + 1;
        if (hi < f->qlen)
            row[hi + 1] = dmax + 1;
        for (size_t j = lo; j <= hi; j++) {
            uint32_t best = prev[j - 1] + (f->query[j - 1] != sym);
            if (prev[j] + 1 < best)
                best = prev[j] + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            if (best < low)
                low = best;
        }
        row[f->qlen + 1] = low;
        if (low > f->max_distance) {
            *cut = s + n;
            return 0;
        }
        s += n;
        f->rows_valid = s;
    }
    return 1;
}

/*
 * Works out which bytes a child below key offset p (whose row is current)
 * may start with and still come within reach.  A symbol matching no query
 * symbol in the band gives the same row whatever it is, whose minimum is
 * one more than the least of the row above over the band, or the symbol
 * count: out of reach exactly when the row above has its minimum at
 * max_distance.  Then only bytes of query symbols in the band can do
 * better.  In UTF-8 mode only ASCII bytes are narrowed this way (a lead
 * byte is judged once its symbol is whole).
 */
static void fuzzy_next_bytes(art_fuzzy *f, size_t p)
{
    const uint32_t *prev = f->rows + p * (f->qlen + 2);
    uint32_t i = prev[0] + 1, dmax = f->max_distance;
    f->next_at = p;
    f->narrow = prev[f->qlen + 1] >= dmax;
    if (!f->narrow)
        return;
    size_t lo, hi;
    fuzzy_band(f, i, &lo, &hi);
    memset(f->next_bytes, 0, sizeof(f->next_bytes));
    if (f->utf8) /* bytes 0x80-0xFF */
        memset(f->next_bytes + 4, 0xFF, 4 * sizeof(uint32_t));
    for (size_t j = lo; j <= hi; j++) {
        uint32_t q = f->query[j - 1];
        if (q < 256)
            f->next_bytes[q >> 5] |= UINT32_C(1) << (q & 31);
    }
}

/* The smallest byte >= b in the set, or 256. */
static int next_byte_in(const uint32_t set[8], int b)
{
    while (b < 256) {
        uint32_t w = set[b >> 5] >> (b & 31);
        if (w)
            return b + (int)ctz32(w);
        b = (b | 31) + 1;
    }
    return 256;
}

/*
 * The cursor's guard: judges a child by its byte before the cursor steps
 * into it, which saves touching the nodes below a hopeless byte, and
 * points the cursor at the next byte that could do better.
 */
static int fuzzy_guard(void *ctx, art_cursor *c, int *next)
{
    art_fuzzy *f = ctx;
    size_t cut, p = c->key_len - 1;
    int b = c->key[p], r;
    if (f->rows_valid < p || c->changed_from < p) {
        r = fuzzy_extend(f, p, 0, &cut);
        if (r <= 0) {
            *next = 256; /* out of reach before the byte: so are siblings */
            return r;
        }
    }
    if (f->rows_valid >= p && c->changed_from >= p &&
        (!f->utf8 || (c->key[p] & 0xC0) != 0x80)) {
        /* The row at p is current (a symbol boundary): narrow by it. */
        if (f->next_at != p)
            fuzzy_next_bytes(f, p);
        if (f->narrow && !(f->next_bytes[b >> 5] >> (b & 31) & 1)) {
            *next = next_byte_in(f->next_bytes, b + 1);
            return 0;
        }
    }
    r = fuzzy_extend(f, c->key_len, 0, &cut);
    if (r == 0 && cut < c->key_len)
        *next = 256;
    return r;
}

/*
 * Computes the rows of the key the cursor landed on.  Returns 1 with the
 * distance in f->distance, 0 after skipping a subtree that cannot match
 * (the cursor then sits on the next candidate, or is exhausted), or
 * ART_ENOMEM.
 */
static int fuzzy_rows(art_fuzzy *f)
{
    art_cursor *c = &f->cursor;
    size_t cut;
    int r = fuzzy_extend(f, c->key_len, 1, &cut);
    if (r < 0)
        return r;
    if (r == 0)
        return art_cursor_skip(c, cut) < 0 ? ART_ENOMEM : 0;
    const uint32_t *row = f->rows + c->key_len * (f->qlen + 2);
    /* Column qlen lies in the band only when the key's length in symbols
       (row[0]) is within max_distance of the query's. */
    uint64_t klen = row[0], dmax = f->max_distance;
    f->distance = klen + dmax < f->qlen || f->qlen + dmax < klen
                      ? f->max_distance + 1
                      : row[f->qlen];
    return 1;
}

int art_fuzzy_next(art_fuzzy *f)
{
    art_cursor *c = &f->cursor;
    int r;
    if (!f->started) {
        f->started = 1;
        c->guard = fuzzy_guard;
        c->guard_ctx = f;
        r = art_cursor_first(c);
    } else {
        r = art_cursor_next(c);
    }
    while (r > 0) {
        int k = fuzzy_rows(f);
        if (k < 0)
            return k;
        if (k == 0) {
            r = c->at ? 1 : 0; /* skip already moved the cursor */
            continue;
        }
        if (f->distance <= f->max_distance)
            return 1;
        r = art_cursor_next(c);
    }
    return r;
}
