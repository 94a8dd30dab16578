/*
 * fuzzy.c -- the approximate queries, which every map type has:
 * fuzzy_search (an iterator of iter.c over the core's art_fuzzy) and
 * closest (art_closest, run to its end here).  Both take the query as
 * the map's keys are taken (key_get), and count code points for str keys
 * and bytes for bytes keys.
 */
#include "_blart.h"

/*
 * A distance argument: an int >= 0, any larger than a key could need
 * meaning "no bound" (UINT32_MAX, which the core caps), or with none_ok
 * None for "no bound".  0 or -1 with TypeError / ValueError.
 */
static int parse_distance(PyObject *o, const char *what, int none_ok,
                          uint32_t *out)
{
    if (none_ok && o == Py_None) {
        *out = UINT32_MAX;
        return 0;
    }
    if (!PyLong_Check(o)) {
        PyErr_Format(PyExc_TypeError, "%s must be an int%s, not %.200s", what,
                     none_ok ? " or None" : "", Py_TYPE(o)->tp_name);
        return -1;
    }
    int overflow;
    long long d = PyLong_AsLongLongAndOverflow(o, &overflow);
    if (d == -1 && PyErr_Occurred())
        return -1;
    if (overflow < 0 || (!overflow && d < 0)) {
        PyErr_Format(PyExc_ValueError, "%s must be >= 0", what);
        return -1;
    }
    /* No key is 2**32 symbols long, so a larger bound means "any key". */
    *out =
        (overflow > 0 || d > (long long)UINT32_MAX) ? UINT32_MAX : (uint32_t)d;
    return 0;
}

/* The core's flags for a query on m. */
static int fuzzy_flags(MapObject *m, int transpositions, int prefix)
{
    return (m->bytes_keys ? 0 : ART_FUZZY_UTF8) |
           (transpositions ? ART_FUZZY_TRANSPOSE : 0) |
           (prefix ? ART_FUZZY_PREFIX : 0);
}

const char blart_fuzzy_search_doc[] = PyDoc_STR(
    "fuzzy_search($self, key, max_distance, *, transpositions=False, "
    "prefix=False)\n--\n\n"
    "Iterate over (key, value, distance) for every key within edit\n"
    "distance max_distance of key, in ascending key order.  TreeMap counts\n"
    "characters (code points), BytesTreeMap bytes.  The distance is\n"
    "Levenshtein's; with transpositions=True swapping two adjacent\n"
    "characters costs one edit (optimal string alignment: no substring is\n"
    "edited twice).  With prefix=True a key matches when some prefix of it\n"
    "(the empty one and the whole key included) is within max_distance,\n"
    "and its distance is the smallest over its prefixes: search as you\n"
    "type.  Walks only the part of the tree within reach of key.\n\n"
    ">>> m = TreeMap.fromkeys(['cafe', 'café', 'cafes', 'tea'], 0)\n"
    ">>> list(m.fuzzy_search('cafe', 1))\n"
    "[('cafe', 0, 0), ('cafes', 0, 1), ('café', 0, 1)]\n"
    ">>> list(m.fuzzy_search('acfe', 1, transpositions=True))\n"
    "[('cafe', 0, 1)]\n"
    ">>> [k for k, _, _ in m.fuzzy_search('cfa', 1, prefix=True)]\n"
    "['cafe', 'cafes', 'café']");

PyObject *blart_map_fuzzy_search(MapObject *m, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"key", "max_distance", "transpositions", "prefix",
                             NULL};
    PyObject *key, *dist, *transpose_o = Py_False, *prefix_o = Py_False;
    int transpose, prefix;
    uint32_t maxd;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OO|$OO:fuzzy_search", kwlist,
                                     &key, &dist, &transpose_o, &prefix_o) ||
        parse_distance(dist, "max_distance", 0, &maxd) < 0 ||
        blart_as_flag(transpose_o, "transpositions", &transpose) < 0 ||
        blart_as_flag(prefix_o, "prefix", &prefix) < 0)
        return NULL;
    keybuf kb;
    if (key_get(m, key, &kb) < 0)
        return NULL;
    IterObject *it = blart_iter_new(m, YIELD_FUZZY, 0);
    if (it && art_fuzzy_init(&it->walk, &m->tree, kb.p, kb.n, maxd,
                             fuzzy_flags(m, transpose, prefix)) < 0) {
        Py_CLEAR(it);
        PyErr_NoMemory();
    }
    key_release(&kb);
    return (PyObject *)it;
}

const char blart_closest_doc[] = PyDoc_STR(
    "closest($self, key, /, n=1, *, max_distance=None, transpositions=False)"
    "\n--\n\n"
    "Return a list of the at most n (key, value, distance) nearest to key,\n"
    "by edit distance and then key: spelling suggestions.  Distances are\n"
    "fuzzy_search()'s; max_distance=None sets no bound.  The search widens\n"
    "its bound one edit at a time and stops once the n best are certain,\n"
    "so it costs about a fuzzy_search() at the n-th best distance.\n\n"
    ">>> m = TreeMap.fromkeys(['receive', 'recipe', 'relieve', 'deceive'], 0)\n"
    ">>> m.closest('recieve', 2, transpositions=True)\n"
    "[('receive', 0, 1), ('relieve', 0, 1)]\n"
    ">>> m.closest('recieve', 3)\n"
    "[('relieve', 0, 1), ('receive', 0, 2), ('recipe', 0, 2)]");

/* The search run to its end; interrupts are checked between its slices.
   0, or -1 with an exception. */
static int closest_run(art_closest *c)
{
    for (;;) {
        int r = art_closest_run(c);
        if (r == ART_OK)
            return 0;
        if (r != ART_EAGAIN) {
            PyErr_NoMemory();
            return -1;
        }
        /* A handler may change the map: the search then starts over. */
        if (PyErr_CheckSignals() < 0)
            return -1;
    }
}

/* The list of c's hits.  Their values are taken (new references, or a
   FrozenTreeMap's decoded) before any object is made, as making one may
   run a collection whose finalizers change the map. */
static PyObject *closest_list(MapObject *m, art_closest *c)
{
    size_t n = c->nhits;
    PyObject **values = PyMem_Calloc(n ? n : 1, sizeof(PyObject *));
    PyObject *list = NULL;
    if (values == NULL)
        return PyErr_NoMemory();
    if (m->file == NULL)
        for (size_t i = 0; i < n; i++)
            values[i] = value_get(m, c->hits[i].value);
    else
        for (size_t i = 0; i < n; i++)
            if ((values[i] = value_get(m, c->hits[i].value)) == NULL)
                goto done;
    list = PyList_New((Py_ssize_t)n);
    if (list == NULL)
        goto done;
    for (size_t i = 0; i < n; i++) {
        size_t len;
        const uint8_t *k = art_closest_key(c, i, &len);
        PyObject *key = blart_key_new(m, k, len);
        PyObject *d = key ? PyLong_FromUnsignedLong(c->hits[i].distance) : NULL;
        PyObject *t = d ? PyTuple_New(3) : NULL;
        if (t == NULL) {
            Py_XDECREF(key);
            Py_XDECREF(d);
            Py_CLEAR(list);
            goto done;
        }
        PyTuple_SET_ITEM(t, 0, key);
        PyTuple_SET_ITEM(t, 1, values[i]);
        PyTuple_SET_ITEM(t, 2, d);
        values[i] = NULL;
        PyList_SET_ITEM(list, (Py_ssize_t)i, t);
    }
done:
    for (size_t i = 0; i < n; i++)
        Py_XDECREF(values[i]);
    PyMem_Free(values);
    return list;
}

PyObject *blart_map_closest(MapObject *m, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"", "n", "max_distance", "transpositions", NULL};
    PyObject *key, *n_o = NULL, *dist = Py_None, *transpose_o = Py_False;
    int transpose;
    uint32_t maxd;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|O$OO:closest", kwlist, &key,
                                     &n_o, &dist, &transpose_o) ||
        parse_distance(dist, "max_distance", 1, &maxd) < 0 ||
        blart_as_flag(transpose_o, "transpositions", &transpose) < 0)
        return NULL;
    Py_ssize_t n = 1;
    if (n_o != NULL) {
        if (!PyLong_Check(n_o)) {
            PyErr_Format(PyExc_TypeError, "n must be an int, not %.200s",
                         Py_TYPE(n_o)->tp_name);
            return NULL;
        }
        int overflow;
        long long v = PyLong_AsLongLongAndOverflow(n_o, &overflow);
        if (v == -1 && PyErr_Occurred())
            return NULL;
        if (overflow < 0 || (!overflow && v < 0)) {
            PyErr_SetString(PyExc_ValueError, "n must be >= 0");
            return NULL;
        }
        /* More than the map holds is the same as all of it. */
        n = overflow > 0 || v > PY_SSIZE_T_MAX ? PY_SSIZE_T_MAX : (Py_ssize_t)v;
    }
    keybuf kb;
    if (key_get(m, key, &kb) < 0)
        return NULL;
    art_closest c;
    int r = art_closest_init(&c, &m->tree, kb.p, kb.n, (size_t)n, maxd,
                             fuzzy_flags(m, transpose, 0));
    key_release(&kb);
    PyObject *res = NULL;
    if (r < 0)
        PyErr_NoMemory();
    else if (closest_run(&c) == 0)
        res = closest_list(m, &c);
    art_closest_free(&c);
    return res;
}
