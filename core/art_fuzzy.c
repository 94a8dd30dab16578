/*
 * art_fuzzy.c -- fuzzy search (art.h): a cursor walk over the tree whose
 * guard computes banded rows of the edit-distance matrix along the key
 * and prunes every subtree that cannot come within max_distance.  The
 * rows are records of art_fuzzy.rows: a stack by key offset, holding the
 * rows the walk may restart from (where the cursor branched) and the
 * newest one.  A variant that needs older rows too (transpositions, which
 * read the row two symbols back) can keep them by marking them kept.
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

/* The fields of a row (art_fuzzy.rows), then its band of cells: the key
   offset it is the row after, its symbol count i, its minimum, whether it
   stays when the next row is computed, the last key symbol it took (the
   transpositions read it), and the least of the cells of column qlen of
   this row and every row before it on the key (the prefix distance). */
enum {
    ROW_OFFSET,
    ROW_SYMBOLS,
    ROW_MIN,
    ROW_KEPT,
    ROW_SYM,
    ROW_BEST,
    ROW_CELLS
};

/* Values above max_distance are all alike (out of reach): stored as one
   more than it. */
static inline uint32_t clamp(const art_fuzzy *f, size_t v)
{
    return v > f->max_distance ? f->max_distance + 1 : (uint32_t)v;
}

int art_fuzzy_init(art_fuzzy *f, art_tree *t, const uint8_t *query, size_t len,
                   uint32_t max_distance, int flags)
{
    int utf8 = flags & ART_FUZZY_UTF8;
    memset(f, 0, sizeof(*f));
    art_cursor_init(&f->cursor, t);
    f->next_at = SIZE_MAX;
    f->slice = ART_FUZZY_SLICE;
    /* Only keys over a billion symbols long could tell larger bounds
       apart, and this one leaves the band arithmetic room. */
    f->max_distance = max_distance < ART_FUZZY_MAX_DISTANCE
                          ? max_distance
                          : ART_FUZZY_MAX_DISTANCE;
    f->utf8 = utf8;
    f->transpose = (flags & ART_FUZZY_TRANSPOSE) != 0;
    f->prefix = (flags & ART_FUZZY_PREFIX) != 0;
    if (len >= SIZE_MAX / sizeof(uint32_t) / 2)
        return ART_ENOMEM;
    f->query = art__malloc(t, (len ? len : 1) * sizeof(uint32_t));
    if (f->query == NULL)
        return ART_ENOMEM;
    for (size_t i = 0, n; i < len; i += n)
        f->query[f->qlen++] = next_symbol(query + i, len - i, utf8, &n);
    size_t wide = (size_t)f->max_distance * 2 + 1;
    f->band = wide < f->qlen + 1 ? wide : f->qlen + 1;
    f->row_size = ROW_CELLS + f->band;
    if (art__grow(t, (void **)&f->rows, &f->rows_cap, 8,
                  f->row_size * sizeof(uint32_t)) < 0) {
        art_fuzzy_free(f);
        return ART_ENOMEM;
    }
    /* The row of the empty key: column j costs j insertions. */
    uint32_t *row = f->rows;
    row[ROW_OFFSET] = row[ROW_SYMBOLS] = row[ROW_MIN] = row[ROW_SYM] = 0;
    row[ROW_KEPT] = 1;
    for (size_t k = 0; k < f->band; k++)
        row[ROW_CELLS + k] = clamp(f, k);
    row[ROW_BEST] = clamp(f, f->qlen); /* the empty prefix: qlen insertions */
    f->nrows = 1;
    return ART_OK;
}

void art_fuzzy_free(art_fuzzy *f)
{
    art_cursor_free(&f->cursor);
    art__free(f->query);
    art__free(f->rows);
    f->query = NULL;
    f->rows = NULL;
    f->rows_cap = f->nrows = 0;
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

/* The first query position the band of the row for symbol count i holds:
   i - max_distance, kept in [0, qlen + 1 - band] so that the band always
   covers fuzzy_band()'s columns with band cells. */
static inline size_t band_base(const art_fuzzy *f, uint32_t i)
{
    size_t last = f->qlen + 1 - f->band;
    size_t b = i > f->max_distance ? (size_t)(i - f->max_distance) : 0;
    return b < last ? b : last;
}

/* The value of column j of a row: its cell, or max_distance + 1 (a lower
   bound that is out of reach too) outside the band, except column 0,
   which is the symbol count. */
static inline uint32_t row_cell(const art_fuzzy *f, const uint32_t *row,
                                size_t j)
{
    size_t k = j - band_base(f, row[ROW_SYMBOLS]);
    if (k < f->band)
        return row[ROW_CELLS + k];
    return j == 0 ? clamp(f, row[ROW_SYMBOLS]) : f->max_distance + 1;
}

static inline uint32_t *top_row(const art_fuzzy *f)
{
    return f->rows + (f->nrows - 1) * f->row_size;
}

/*
 * Computes into row the row after one more symbol sym below prev.  Cells
 * within max_distance of the diagonal that are within reach come out
 * exact; every other cell comes out out of reach (max_distance + 1: all
 * values above max_distance are stored as it, which keeps the counters
 * from growing).  With transpositions, pprev is the row before prev (NULL
 * when prev is the empty key's): cell j may also come from pprev's cell
 * j - 2 plus one when the last two key symbols are query symbols j and
 * j - 1 swapped (optimal string alignment).  Returns the row's minimum.
 */
static ART_ALWAYS_INLINE uint32_t row_next(const art_fuzzy *f,
                                           const uint32_t *pprev,
                                           const uint32_t *prev, uint32_t *row,
                                           uint32_t sym)
{
    uint32_t i = prev[ROW_SYMBOLS] + 1;
    size_t base = band_base(f, i);
    uint32_t low = clamp(f, i); /* column 0: i deletions */
    /* The column left of the band: 0 (i deletions), or out of reach. */
    uint32_t left = base <= 1 ? low : f->max_distance + 1;
    for (size_t k = 0; k < f->band; k++) {
        size_t j = base + k;
        uint32_t best = low;
        if (j > 0) {
            best = row_cell(f, prev, j - 1) + (f->query[j - 1] != sym);
            uint32_t up = row_cell(f, prev, j) + 1;
            if (up < best)
                best = up;
            if (left + 1 < best)
                best = left + 1;
            if (pprev && j > 1 && sym == f->query[j - 2] &&
                prev[ROW_SYM] == f->query[j - 1]) {
                uint32_t swap = row_cell(f, pprev, j - 2) + 1;
                if (swap < best)
                    best = swap;
            }
            best = clamp(f, best);
        }
        row[ROW_CELLS + k] = best;
        left = best;
        if (best < low)
            low = best;
    }
    row[ROW_SYMBOLS] = i;
    row[ROW_MIN] = low;
    row[ROW_KEPT] = 0;
    row[ROW_SYM] = sym;
    if (f->prefix) {
        uint32_t last = row_cell(f, row, f->qlen);
        row[ROW_BEST] = last < prev[ROW_BEST] ? last : prev[ROW_BEST];
    }
    return low;
}

/* What fuzzy_extend() returns when the slice of work ran out. */
#define PAUSED ART_EAGAIN

/* With transpositions, whether the row before the top one, which they
   need, is missing: the row below the top is not its predecessor on the
   key. */
static inline int lacks_pprev(const art_fuzzy *f)
{
    const uint32_t *top = top_row(f);
    return top[ROW_SYMBOLS] > 0 &&
           (top - f->row_size)[ROW_SYMBOLS] + 1 != top[ROW_SYMBOLS];
}

/* In prefix mode, whether every key below the top row has its distance
   already: no row further on can have a cell below the row's minimum, and
   the best prefix so far is no more than it. */
static inline int settled(const uint32_t *row)
{
    return row[ROW_BEST] <= row[ROW_MIN];
}

/*
 * Pushes the row just computed above the top one (at row_next()'s row):
 * it becomes the top.  Rows are kept where the walk may come back to (the
 * kept ones), plus, with transpositions, the predecessor of each of them
 * and of the top; any other row is overwritten.
 */
static void push_row(art_fuzzy *f)
{
    uint32_t *prev = top_row(f), *row = prev + f->row_size;
    size_t bytes = f->row_size * sizeof(uint32_t);
    /* Whether a row below the new one can go: prev when nobody comes back
       to it, or with transpositions (prev is the new row's predecessor)
       the one below prev when neither it nor prev is kept. */
    int drop_prev = !prev[ROW_KEPT] && !f->transpose;
    int drop_below = !prev[ROW_KEPT] && f->transpose && f->nrows >= 2 &&
                     !(prev - f->row_size)[ROW_KEPT];
    if (drop_prev) {
        memcpy(prev, row, bytes);
    } else if (drop_below) {
        memcpy(prev - f->row_size, prev, bytes);
        memcpy(prev, row, bytes);
    } else {
        f->nrows++;
    }
}

/*
 * Brings the rows up to date for the cursor's key up to offset upto: all
 * of it when whole (a stored key, whose last symbol ends with it), else as
 * far as it holds whole symbols.  Returns 1 when every row computed is
 * within reach, 0 with *cut set when the row after key[0..*cut) is the
 * first out of reach (no key starting with it can match), PAUSED when the
 * slice ran out first (the rows computed so far stay), or ART_ENOMEM.  In
 * prefix mode the rows stop once settled: the keys below share the top
 * row's distance.
 */
static int fuzzy_extend(art_fuzzy *f, size_t upto, int whole, size_t *cut)
{
    art_cursor *c = &f->cursor;
    const uint8_t *key = c->key;
    size_t from = c->changed_from < upto ? c->changed_from : upto;
    /* Rows after key[0..s) stay right for s <= from; the others go, and
       so does a top row whose predecessor the transpositions need and no
       longer have.  The rows kept are at symbol boundaries, so the top one
       is too. */
    while (f->nrows > 1 && top_row(f)[ROW_OFFSET] > from)
        f->nrows--;
    if (f->transpose)
        while (f->nrows > 1 && lacks_pprev(f))
            f->nrows--;
    size_t s = top_row(f)[ROW_OFFSET];
    c->changed_from = c->key_len;
    if (f->next_at > s)
        f->next_at = SIZE_MAX;
    while (s < upto) {
        size_t n;
        if (f->prefix && settled(top_row(f)))
            break;
        if (!whole && f->utf8 && utf8_len(key[s]) > upto - s)
            break; /* the symbol goes on below: judge it there */
        if (f->work == 0)
            return PAUSED;
        /* At least one row per call, so that every slice gets on. */
        f->work = f->work > f->band ? f->work - f->band - 1 : 0;
        uint32_t sym = next_symbol(key + s, upto - s, f->utf8, &n);
        if (art__grow(c->tree, (void **)&f->rows, &f->rows_cap, f->nrows + 1,
                      f->row_size * sizeof(uint32_t)) < 0)
            return ART_ENOMEM;
        uint32_t *prev = top_row(f), *row = prev + f->row_size;
        /* Two copies of the row loop: the plain one without the swap test
           (pprev a constant NULL). */
        uint32_t low =
            !f->transpose
                ? row_next(f, NULL, prev, row, sym)
                : row_next(f, f->nrows > 1 ? prev - f->row_size : NULL, prev,
                           row, sym);
        if (low > f->max_distance &&
            !(f->prefix && row[ROW_BEST] <= f->max_distance)) {
            *cut = s + n;
            return 0;
        }
        s += n;
        row[ROW_OFFSET] = (uint32_t)s;
        push_row(f);
    }
    return 1;
}

/*
 * Works out which bytes a child below key offset p (whose row, top, is
 * current) may start with and still come within reach.  A symbol
 * matching no query symbol in the band gives the same row whatever it
 * is, whose minimum is one more than the least of the row above over the
 * band, or the symbol count: out of reach exactly when the row above has
 * its minimum at max_distance (and, in prefix mode, no prefix of the key
 * so far is within reach).  Then only bytes of query symbols in the band
 * can do better.  A transposition needs a symbol of the band too: one
 * equal to query symbol j - 1 for a cell j >= lo, and for j = lo > 1 it
 * comes from a cell max_distance off the diagonal two rows up, so it
 * cannot be within reach.  In UTF-8 mode only ASCII bytes are narrowed this
 * way (a lead byte is judged once its symbol is whole).
 */
static void fuzzy_next_bytes(art_fuzzy *f, const uint32_t *top, size_t p)
{
    uint32_t i = top[ROW_SYMBOLS] + 1, dmax = f->max_distance;
    f->next_at = p;
    f->narrow = top[ROW_MIN] >= dmax && !(f->prefix && top[ROW_BEST] <= dmax);
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
 * points the cursor at the next byte that could do better.  Once the
 * slice has run out it lets the cursor in without judging: the key the
 * cursor lands on is judged by the next call (f->pending).
 */
static int fuzzy_guard(void *ctx, art_cursor *c, int *next)
{
    art_fuzzy *f = ctx;
    size_t cut, p = c->key_len - 1;
    int b = c->key[p], r;
    if (f->work == 0)
        return 1;
    f->work--;
    r = fuzzy_extend(f, p, 0, &cut);
    if (r == PAUSED)
        return 1;
    if (r <= 0) {
        *next = 256; /* out of reach before the byte: so are siblings */
        return r;
    }
    /* The siblings of this child start from this row: keep it. */
    uint32_t *top = top_row(f);
    top[ROW_KEPT] = 1;
    if (top[ROW_OFFSET] == p) {
        /* The row at p is current (a symbol boundary): narrow by it. */
        if (f->next_at != p)
            fuzzy_next_bytes(f, top, p);
        if (f->narrow && !(f->next_bytes[b >> 5] >> (b & 31) & 1)) {
            *next = next_byte_in(f->next_bytes, b + 1);
            return 0;
        }
    }
    r = fuzzy_extend(f, c->key_len, 0, &cut);
    if (r == PAUSED)
        return 1;
    if (r == 0 && cut < c->key_len)
        *next = 256;
    return r;
}

/*
 * Computes the rows of the key the cursor landed on.  Returns 1 with the
 * distance in f->distance, 0 after skipping a subtree that cannot match
 * (the cursor then sits on the next candidate, or is exhausted), PAUSED,
 * or ART_ENOMEM.
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
    const uint32_t *row = top_row(f);
    if (f->prefix) {
        f->distance = row[ROW_BEST];
        return 1;
    }
    /* Column qlen lies in the band only when the key's length in symbols
       is within max_distance of the query's. */
    uint64_t klen = row[ROW_SYMBOLS], dmax = f->max_distance;
    f->distance = klen + dmax < f->qlen || f->qlen + dmax < klen
                      ? f->max_distance + 1
                      : row_cell(f, row, f->qlen);
    return 1;
}

/*
 * Keeps the key last yielded (the cursor's, when positioned) in the
 * cursor's scratch buffer, which only a step after a change of the tree
 * uses, to copy that same key into.  A call that pauses can then go on
 * after a change of the tree from where the walk stood for its caller.
 */
static int fuzzy_remember(art_fuzzy *f)
{
    art_cursor *c = &f->cursor;
    size_t len = c->key_len;
    f->last_len = SIZE_MAX;
    if (c->at == 0)
        return ART_OK;
    if (art__grow(c->tree, (void **)&c->scratch, &c->scratch_cap, len ? len : 1,
                  1) < 0)
        return ART_ENOMEM;
    if (len)
        memcpy(c->scratch, c->key, len);
    f->last_len = len;
    return ART_OK;
}

/* Goes on from a pause: on the key it stopped at, or when the tree has
   changed since, from the key last yielded as a step would. */
static int fuzzy_resume(art_fuzzy *f)
{
    art_cursor *c = &f->cursor;
    f->pending = 0;
    if (c->version == c->tree->version)
        return 1;
    if (f->last_len == SIZE_MAX)
        return art_cursor_first(c);
    return art_cursor_seek(c, c->scratch, f->last_len, ART_SEEK_GT);
}

int art_fuzzy_next(art_fuzzy *f)
{
    art_cursor *c = &f->cursor;
    int r;
    f->work = f->slice ? f->slice : SIZE_MAX;
    if (f->pending) {
        r = fuzzy_resume(f);
    } else if (!f->started) {
        f->started = 1;
        f->last_len = SIZE_MAX;
        c->guard = fuzzy_guard;
        c->guard_ctx = f;
        r = art_cursor_first(c);
    } else {
        if (f->slice && fuzzy_remember(f) < 0)
            return ART_ENOMEM;
        r = art_cursor_next(c);
    }
    while (r > 0) {
        int k = f->work ? fuzzy_rows(f) : PAUSED;
        if (k == PAUSED) {
            f->pending = 1;
            return ART_EAGAIN;
        }
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
