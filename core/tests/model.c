/*
 * model.c -- the trusted model of core/tests/model.h: slow, obvious, and
 * independent of the tree's code (nothing here calls into the core).
 */
#include "model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *model_alloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (q == NULL) {
        fprintf(stderr, "model: out of memory\n");
        abort();
    }
    return q;
}

int model_key_cmp(const uint8_t *a, size_t na, const uint8_t *b, size_t nb)
{
    size_t n = na < nb ? na : nb;
    for (size_t i = 0; i < n; i++)
        if (a[i] != b[i])
            return a[i] < b[i] ? -1 : 1;
    return na < nb ? -1 : na > nb;
}

int model_key_eq(const uint8_t *a, size_t na, const uint8_t *b, size_t nb)
{
    return na == nb && model_key_cmp(a, na, b, nb) == 0;
}

int model_starts_with(const uint8_t *k, size_t len, const uint8_t *p,
                      size_t plen)
{
    return plen <= len && model_key_cmp(k, plen, p, plen) == 0;
}

size_t model_lower(const model *m, const uint8_t *k, size_t len, int *found)
{
    size_t lo = 0, hi = m->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (model_key_cmp(m->a[mid].key, m->a[mid].len, k, len) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (found)
        *found = lo < m->n && model_key_eq(m->a[lo].key, m->a[lo].len, k, len);
    return lo;
}

model_entry *model_find(const model *m, const uint8_t *k, size_t len)
{
    int found;
    size_t i = model_lower(m, k, len, &found);
    return found ? &m->a[i] : NULL;
}

size_t model_seek(const model *m, const uint8_t *k, size_t len,
                  art_seek_mode mode)
{
    int exact;
    size_t lb = model_lower(m, k, len, &exact);
    switch (mode) {
    case ART_SEEK_GE:
        return lb;
    case ART_SEEK_GT:
        return exact ? lb + 1 : lb;
    case ART_SEEK_LE:
        if (exact)
            return lb;
        return lb ? lb - 1 : m->n;
    case ART_SEEK_LT:
        return lb ? lb - 1 : m->n;
    }
    return m->n;
}

void model_insert_at(model *m, size_t i, const uint8_t *k, size_t len,
                     void *val)
{
    if (m->n == m->cap) {
        m->cap = m->cap ? m->cap * 2 : 64;
        m->a = model_alloc(m->a, m->cap * sizeof *m->a);
    }
    memmove(&m->a[i + 1], &m->a[i], (m->n - i) * sizeof *m->a);
    m->a[i].key = model_alloc(NULL, len + 1);
    if (len)
        memcpy(m->a[i].key, k, len);
    m->a[i].len = len;
    m->a[i].val = val;
    m->n++;
}

void model_remove_at(model *m, size_t i)
{
    free(m->a[i].key);
    memmove(&m->a[i], &m->a[i + 1], (m->n - i - 1) * sizeof *m->a);
    m->n--;
}

void *model_put(model *m, const uint8_t *k, size_t len, void *val)
{
    int found;
    size_t i = model_lower(m, k, len, &found);
    if (found) {
        void *old = m->a[i].val;
        m->a[i].val = val;
        return old;
    }
    model_insert_at(m, i, k, len, val);
    return NULL;
}

void *model_del(model *m, const uint8_t *k, size_t len)
{
    int found;
    size_t i = model_lower(m, k, len, &found);
    if (!found)
        return NULL;
    void *old = m->a[i].val;
    model_remove_at(m, i);
    return old;
}

void model_clear(model *m)
{
    for (size_t i = 0; i < m->n; i++)
        free(m->a[i].key);
    m->n = 0;
}

void model_free(model *m)
{
    model_clear(m);
    free(m->a);
    m->a = NULL;
    m->cap = 0;
}

void model_move(model *dst, model *src)
{
    model_free(dst);
    *dst = *src;
    src->a = NULL;
    src->n = src->cap = 0;
}

size_t model_symbols(const uint8_t *k, size_t len, int utf8, uint32_t *out)
{
    size_t n = 0;
    for (size_t i = 0; i < len;) {
        uint8_t b = k[i];
        size_t w = 1;
        uint32_t cp = b;
        if (utf8 && b >= 0xC0 && b < 0xF8) {
            w = b < 0xE0 ? 2 : b < 0xF0 ? 3 : 4;
            if (w > len - i)
                w = len - i;
            cp = b & (w == 2 ? 0x1Fu : w == 3 ? 0x0Fu : 0x07u);
            if (w == 1)
                cp = b; /* a lead byte at the very end stands alone */
            for (size_t j = 1; j < w; j++)
                cp = (cp << 6) | (k[i + j] & 0x3Fu);
        }
        out[n++] = cp;
        i += w;
    }
    return n;
}

uint32_t model_levenshtein(const uint32_t *a, size_t na, const uint32_t *b,
                           size_t nb, uint32_t *row)
{
    for (size_t j = 0; j <= nb; j++)
        row[j] = (uint32_t)j;
    for (size_t i = 1; i <= na; i++) {
        uint32_t diag = row[0];
        row[0] = (uint32_t)i;
        for (size_t j = 1; j <= nb; j++) {
            uint32_t up = row[j];
            uint32_t best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[nb];
}

uint32_t model_distance(const uint32_t *a, size_t na, const uint32_t *b,
                        size_t nb, int flags, uint32_t *rows)
{
    /* Three whole rows over b, by key symbol count i: i - 2, i - 1, i. */
    uint32_t *r2 = rows, *r1 = rows + nb + 1, *r0 = rows + 2 * (nb + 1);
    for (size_t j = 0; j <= nb; j++)
        r1[j] = (uint32_t)j;
    uint32_t best = r1[nb];
    for (size_t i = 1; i <= na; i++) {
        r0[0] = (uint32_t)i;
        for (size_t j = 1; j <= nb; j++) {
            uint32_t v = r1[j - 1] + (a[i - 1] != b[j - 1]);
            if (r1[j] + 1 < v)
                v = r1[j] + 1;
            if (r0[j - 1] + 1 < v)
                v = r0[j - 1] + 1;
            if ((flags & ART_FUZZY_TRANSPOSE) && i > 1 && j > 1 &&
                a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                r2[j - 2] + 1 < v)
                v = r2[j - 2] + 1;
            r0[j] = v;
        }
        if (r0[nb] < best)
            best = r0[nb];
        uint32_t *t = r2;
        r2 = r1;
        r1 = r0;
        r0 = t;
    }
    return (flags & ART_FUZZY_PREFIX) ? best : r1[nb];
}

/* The reference's word test: the byte (or, for UTF-8, the lead byte of
   the code point) is an ASCII letter, digit or '_'.  Every byte of a
   multi-byte code point is >= 0x80, so such code points are not words. */
static int model_word_byte(uint8_t c)
{
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') ||
           (c >= 'a' && c <= 'z') || c == '_';
}

/* Whether a match may start at i: a character starts there and, for
   whole words, none ends before it that is a word character. */
static int model_may_start(const art_scan *s, size_t i)
{
    if ((s->flags & ART_SCAN_UTF8) && (s->text[i] & 0xC0) == 0x80)
        return 0;
    return !(s->flags & ART_SCAN_WHOLE_WORDS) || i == 0 ||
           !model_word_byte(s->text[i - 1]);
}

int model_scan_next(const model *m, art_scan *s, size_t *start, size_t *end,
                    void **value)
{
    const int overlapping = (s->flags & ART_SCAN_OVERLAPPING) != 0;
    for (; s->pos < s->len; s->pos++, s->min_len = 1) {
        if (!model_may_start(s, s->pos))
            continue;
        size_t best = 0;
        void *best_val = NULL;
        for (size_t i = 0; i < m->n; i++) {
            const model_entry *e = &m->a[i];
            size_t e_end = s->pos + e->len;
            if (e->len < s->min_len || e->len > s->len - s->pos ||
                memcmp(e->key, s->text + s->pos, e->len) != 0)
                continue;
            if ((s->flags & ART_SCAN_WHOLE_WORDS) && e_end < s->len &&
                model_word_byte(s->text[e_end]))
                continue;
            if (best_val == NULL ||
                (overlapping ? e->len < best : e->len > best)) {
                best = e->len;
                best_val = e->val;
            }
        }
        if (best_val) {
            *start = s->pos;
            *end = s->pos + best;
            *value = best_val;
            if (overlapping)
                s->min_len = best + 1;
            else {
                s->pos += best;
                s->min_len = 1;
            }
            return 1;
        }
    }
    return 0;
}
