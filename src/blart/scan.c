/*
 * scan.c -- finditer: every stored key inside a text, as a lazy iterator
 * of (start, end, key, value) over the core's scan (art.h, "Text
 * scanning").
 *
 * The text is held as bytes for the whole iteration: a str's UTF-8 (its
 * data itself when it is ASCII, else the UTF-8 CPython caches on it, or a
 * surrogatepass encoding of our own when it has lone surrogates, which
 * is how TreeMap stores such keys), a bytes-like object's buffer for
 * BytesTreeMap.  The scan reports byte offsets; for a str they become
 * code point offsets by counting the lead bytes from the last match on,
 * so a whole scan counts each byte once.  Nothing is allocated per
 * character, only per match.
 *
 * Weakly consistent like every iterator here, and simpler: the scan holds
 * no pointer into the tree (each step descends from the root), so the
 * map may change between two steps and the scan goes on over the map as
 * it is then.  A step takes its value's reference before it makes any
 * object, so a collection run by that allocation that changes the map
 * cannot free the value under it.
 */
#include "_blart.h"

typedef struct {
    PyObject_HEAD
    MapObject *map;
    PyObject *text; /* the text passed in */
    PyObject *utf8; /* bytes: a str's surrogatepass encoding, or NULL */
    Py_buffer view; /* BytesTreeMap: the text's buffer */
    int has_view;
    int ascii; /* a str whose byte and code point offsets agree */
    int busy;  /* set while a step runs; guards re-entrant next() */
    art_scan scan;
    size_t byte_at;   /* a byte offset at or before the next match... */
    Py_ssize_t cp_at; /* ...and its code point offset */
} ScanObject;

/* str.isalnum() or '_', for the code points outside ASCII (art_word_fn). */
static int unicode_word(uint32_t cp)
{
    return cp == '_' || Py_UNICODE_ISALNUM((Py_UCS4)cp);
}

/* The code points in p[0..n): the bytes that are not continuation bytes. */
static Py_ssize_t code_points(const uint8_t *p, size_t n)
{
    Py_ssize_t count = 0;
    for (size_t i = 0; i < n; i++)
        count += (p[i] & 0xC0) != 0x80;
    return count;
}

/* Points the scan at text's bytes: 0, or -1 with an exception. */
static int hold_text(ScanObject *it, PyObject *text, unsigned flags)
{
    MapObject *m = it->map;
    const uint8_t *p;
    Py_ssize_t n;
    if (!m->bytes_keys) {
        if (!PyUnicode_Check(text)) {
            PyErr_Format(PyExc_TypeError,
                         "%s.finditer() takes a str text, not %.200s",
                         blart_short_name(Py_TYPE(m)), Py_TYPE(text)->tp_name);
            return -1;
        }
        if (PyUnicode_IS_ASCII(text)) {
            it->ascii = 1;
            p = PyUnicode_DATA(text);
            n = PyUnicode_GET_LENGTH(text);
        } else {
            p = (const uint8_t *)PyUnicode_AsUTF8AndSize(text, &n);
            if (p == NULL) {
                if (!PyErr_ExceptionMatches(PyExc_UnicodeEncodeError))
                    return -1;
                PyErr_Clear();
                it->utf8 =
                    PyUnicode_AsEncodedString(text, "utf-8", "surrogatepass");
                if (it->utf8 == NULL)
                    return -1;
                p = (const uint8_t *)PyBytes_AS_STRING(it->utf8);
                n = PyBytes_GET_SIZE(it->utf8);
            }
            flags |= ART_SCAN_UTF8;
        }
    } else {
        if (PyUnicode_Check(text) || !PyObject_CheckBuffer(text)) {
            PyErr_Format(PyExc_TypeError,
                         "%s.finditer() takes a bytes-like text (bytes, "
                         "bytearray, memoryview), not %.200s",
                         blart_short_name(Py_TYPE(m)), Py_TYPE(text)->tp_name);
            return -1;
        }
        if (PyObject_GetBuffer(text, &it->view, PyBUF_SIMPLE) < 0)
            return -1;
        it->has_view = 1;
        p = it->view.buf;
        n = it->view.len;
    }
    Py_INCREF(text);
    it->text = text;
    art_scan_init(&it->scan, p, (size_t)n, flags, unicode_word);
    return 0;
}

const char blart_finditer_doc[] = PyDoc_STR(
    "finditer($self, text, /, *, overlapping=False, whole_words=False)\n--\n\n"
    "Iterate over (start, end, key, value) for the stored keys found in\n"
    "text, where text[start:end] == key.  TreeMap takes a str (offsets in\n"
    "code points), BytesTreeMap a bytes-like object (offsets in bytes).\n\n"
    "By default the matches are leftmost-longest and do not overlap: at\n"
    "each position the longest key starting there, then on from its end.\n"
    "overlapping=True yields every occurrence, by start, shortest first.\n"
    "whole_words=True keeps only matches with no word character (str:\n"
    "isalnum() or '_'; bytes: ASCII letters, digits, '_') just before or\n"
    "after them.  The empty key never matches.  Lazy; the map may change\n"
    "while it runs, and the scan goes on over the map as it is.\n\n"
    ">>> m = TreeMap({'he': 1, 'her': 2, 'here': 3, 'she': 4})\n"
    ">>> list(m.finditer('she is here'))\n"
    "[(0, 3, 'she', 4), (7, 11, 'here', 3)]\n"
    ">>> [k for _, _, k, _ in m.finditer('she is here', overlapping=True)]\n"
    "['she', 'he', 'he', 'her', 'here']\n"
    ">>> [k for _, _, k, _ in m.finditer('shell here', whole_words=True)]\n"
    "['here']");

PyObject *blart_map_finditer(MapObject *m, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"", "overlapping", "whole_words", NULL};
    PyObject *text, *overlapping_o = Py_False, *whole_o = Py_False;
    int overlapping, whole;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|$OO:finditer", kwlist,
                                     &text, &overlapping_o, &whole_o) ||
        blart_as_flag(overlapping_o, "overlapping", &overlapping) < 0 ||
        blart_as_flag(whole_o, "whole_words", &whole) < 0)
        return NULL;
    ScanObject *it = PyObject_GC_New(ScanObject, m->state->Scan_Type);
    if (it == NULL)
        return NULL;
    Py_INCREF(m);
    it->map = m;
    it->text = it->utf8 = NULL;
    it->has_view = it->ascii = it->busy = 0;
    it->byte_at = 0;
    it->cp_at = 0;
    unsigned flags = (overlapping ? ART_SCAN_OVERLAPPING : 0) |
                     (whole ? ART_SCAN_WHOLE_WORDS : 0);
    PyObject_GC_Track(it);
    if (hold_text(it, text, flags) < 0) {
        Py_DECREF(it);
        return NULL;
    }
    return (PyObject *)it;
}

/* The match's offsets as the text's indices: a str's code points. */
static void text_offsets(ScanObject *it, size_t start, size_t end,
                         Py_ssize_t *cs, Py_ssize_t *ce)
{
    if (it->map->bytes_keys || it->ascii) {
        *cs = (Py_ssize_t)start;
        *ce = (Py_ssize_t)end;
        return;
    }
    const uint8_t *p = it->scan.text;
    it->cp_at += code_points(p + it->byte_at, start - it->byte_at);
    it->byte_at = start;
    *cs = it->cp_at;
    *ce = it->cp_at + code_points(p + start, end - start);
}

static PyObject *scan_next(ScanObject *it)
{
    if (it->busy) {
        PyErr_SetString(PyExc_RuntimeError, "iterator already executing");
        return NULL;
    }
    MapObject *m = it->map;
    size_t start, end;
    void *raw;
    if (!art_scan_next(&it->scan, &m->tree, &start, &end, &raw))
        return NULL;
    it->busy = 1;
    PyObject *res = NULL, *key = NULL, *cs_o = NULL, *ce_o = NULL;
    PyObject *value = value_get(m, raw);
    if (value == NULL)
        goto done;
    Py_ssize_t cs, ce;
    text_offsets(it, start, end, &cs, &ce);
    if (m->bytes_keys)
        key = PyBytes_FromStringAndSize((const char *)it->scan.text + start,
                                        (Py_ssize_t)(end - start));
    else
        key = PyUnicode_Substring(it->text, cs, ce);
    if (key == NULL || (cs_o = PyLong_FromSsize_t(cs)) == NULL ||
        (ce_o = PyLong_FromSsize_t(ce)) == NULL)
        goto done;
    res = PyTuple_New(4);
    if (res == NULL)
        goto done;
    PyTuple_SET_ITEM(res, 0, cs_o);
    PyTuple_SET_ITEM(res, 1, ce_o);
    PyTuple_SET_ITEM(res, 2, key);
    PyTuple_SET_ITEM(res, 3, value);
    cs_o = ce_o = key = value = NULL;
done:
    Py_XDECREF(cs_o);
    Py_XDECREF(ce_o);
    Py_XDECREF(key);
    Py_XDECREF(value);
    it->busy = 0;
    return res;
}

static int scan_traverse(ScanObject *it, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(it));
    Py_VISIT(it->map);
    Py_VISIT(it->text);
    return 0;
}

static void scan_dealloc(ScanObject *it)
{
    PyTypeObject *tp = Py_TYPE(it);
    PyObject_GC_UnTrack(it);
    if (it->has_view)
        PyBuffer_Release(&it->view);
    Py_CLEAR(it->utf8);
    Py_CLEAR(it->text);
    Py_CLEAR(it->map);
    PyObject_GC_Del(it);
    Py_DECREF(tp);
}

static PyType_Slot scan_slots[] = {
    {Py_tp_doc, "Iterator of finditer(): (start, end, key, value) for each "
                "stored key\nfound in a text."},
    {Py_tp_iter, PyObject_SelfIter},
    {Py_tp_iternext, scan_next},
    {Py_tp_traverse, scan_traverse},
    {Py_tp_dealloc, scan_dealloc},
    {0, NULL},
};

PyType_Spec blart_scan_spec = {
    .name = "blart.FindIterator",
    .basicsize = sizeof(ScanObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC
#ifdef Py_TPFLAGS_DISALLOW_INSTANTIATION
             | Py_TPFLAGS_DISALLOW_INSTANTIATION
#endif
#ifdef Py_TPFLAGS_IMMUTABLETYPE
             | Py_TPFLAGS_IMMUTABLETYPE
#endif
    ,
    .slots = scan_slots,
};
