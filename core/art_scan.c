/*
 * art_scan.c -- the stored keys inside a text (art.h, "Text scanning").
 *
 * A scan is a position in the text and, for overlapping scans, the
 * shortest length still to report at that position.  Each step is one
 * descent from the root along the text (art_prefix_match), so the scan
 * keeps no pointer into the tree and the tree may change between steps.
 *
 * Whole words are judged here, on the characters around a candidate:
 * the one before a start (stepping back over UTF-8 continuation bytes)
 * and the one at an end.  ASCII characters are judged by a table; other
 * code points by the caller's is_word (the binding passes Python's
 * str.isalnum rule), so this file needs nothing outside the C library.
 */
#include "art.h"

static int ascii_word(uint32_t c)
{
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') ||
           (c >= 'a' && c <= 'z') || c == '_';
}

static int is_continuation(uint8_t b)
{
    return (b & 0xC0) == 0x80;
}

/* The code point whose encoding starts at p[0] (p < end).  A byte that
   does not start a well-formed sequence stands for itself. */
static uint32_t decode_at(const uint8_t *p, const uint8_t *end)
{
    uint32_t c = p[0];
    int more;
    if (c < 0x80)
        return c;
    if ((c & 0xE0) == 0xC0) {
        more = 1;
        c &= 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
        more = 2;
        c &= 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
        more = 3;
        c &= 0x07;
    } else
        return c;
    if (end - p <= more)
        return p[0];
    for (int i = 1; i <= more; i++) {
        if (!is_continuation(p[i]))
            return p[0];
        c = (c << 6) | (p[i] & 0x3Fu);
    }
    return c;
}

/* Whether the character starting at byte offset i is a word character. */
static int word_at(const art_scan *s, size_t i)
{
    if (!(s->flags & ART_SCAN_UTF8) || s->text[i] < 0x80)
        return ascii_word(s->text[i]);
    uint32_t c = decode_at(s->text + i, s->text + s->len);
    return s->is_word ? s->is_word(c) : ascii_word(c);
}

/* Whether the character that ends just before byte offset i (i > 0) is a
   word character. */
static int word_before(const art_scan *s, size_t i)
{
    size_t j = i - 1;
    if (s->flags & ART_SCAN_UTF8)
        while (j > 0 && i - j < 4 && is_continuation(s->text[j]))
            j--;
    return word_at(s, j);
}

/* A candidate of length len at the scan's position ends on a word
   boundary (art_accept_fn). */
static int ends_word(void *ctx, size_t len)
{
    const art_scan *s = ctx;
    size_t end = s->pos + len;
    return end == s->len || !word_at(s, end);
}

/* The next character's offset after s->pos. */
static size_t next_char(const art_scan *s)
{
    size_t i = s->pos + 1;
    if (s->flags & ART_SCAN_UTF8)
        while (i < s->len && is_continuation(s->text[i]))
            i++;
    return i;
}

void art_scan_init(art_scan *s, const uint8_t *text, size_t len, unsigned flags,
                   art_word_fn is_word)
{
    s->text = len ? text : (const uint8_t *)"";
    s->len = len;
    s->pos = 0;
    s->min_len = 1;
    s->flags = flags;
    s->is_word = is_word;
}

int art_scan_next(art_scan *s, const art_tree *t, size_t *start, size_t *end,
                  void **value)
{
    const int overlapping = (s->flags & ART_SCAN_OVERLAPPING) != 0;
    const int whole = (s->flags & ART_SCAN_WHOLE_WORDS) != 0;
    /* The empty key never matches, so nothing starts at s->len. */
    while (s->pos < s->len) {
        if (!(whole && s->pos > 0 && word_before(s, s->pos))) {
            size_t n = 0;
            void *v = art_prefix_match(t, s->text + s->pos, s->len - s->pos,
                                       s->min_len, !overlapping,
                                       whole ? ends_word : NULL, s, &n);
            if (v) {
                *start = s->pos;
                *end = s->pos + n;
                *value = v;
                if (overlapping)
                    s->min_len = n + 1;
                else
                    s->pos += n;
                return 1;
            }
        }
        s->pos = next_char(s);
        s->min_len = 1;
    }
    return 0;
}
