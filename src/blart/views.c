/*
 * views.c -- TreeMapKeys, TreeMapValues and TreeMapItems: live views of
 * a map (any map type), made by keys(), values() and items() (queries.c).
 * A view holds only its map; its length and iteration are the map's, and
 * the set operations of keys and items views are those of dict's views.
 */
#include "_blart.h"

typedef struct {
    PyObject_HEAD
    MapObject *map;
} ViewObject;

PyObject *blart_view_new(MapObject *m, PyTypeObject *type)
{
    ViewObject *v = PyObject_GC_New(ViewObject, type);
    if (v == NULL)
        return NULL;
    Py_INCREF(m);
    v->map = m;
    PyObject_GC_Track(v);
    return (PyObject *)v;
}

static int view_yield(ViewObject *v)
{
    blart_state *st = v->map->state;
    PyTypeObject *t = Py_TYPE(v);
    return t == st->KeysView_Type     ? YIELD_KEYS
           : t == st->ValuesView_Type ? YIELD_VALUES
                                      : YIELD_ITEMS;
}

static Py_ssize_t view_len(ViewObject *v)
{
    return (Py_ssize_t)v->map->tree.size;
}

static PyObject *view_iter(ViewObject *v)
{
    return (PyObject *)blart_iter_new(v->map, view_yield(v), 0);
}

static PyObject *view_reversed(ViewObject *v, PyObject *Py_UNUSED(ignored))
{
    return (PyObject *)blart_iter_new(v->map, view_yield(v), 1);
}

static int view_traverse(ViewObject *v, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(v));
    Py_VISIT(v->map);
    return 0;
}

static void view_dealloc(ViewObject *v)
{
    PyTypeObject *tp = Py_TYPE(v);
    PyObject_GC_UnTrack(v);
    Py_CLEAR(v->map);
    PyObject_GC_Del(v);
    Py_DECREF(tp);
}

static PyObject *view_repr(ViewObject *v)
{
    int r = Py_ReprEnter((PyObject *)v);
    if (r != 0)
        return r > 0 ? PyUnicode_FromString("...") : NULL;
    PyObject *seq = PySequence_List((PyObject *)v);
    PyObject *res = NULL;
    if (seq)
        res = PyUnicode_FromFormat("%s(%R)", blart_short_name(Py_TYPE(v)), seq);
    Py_XDECREF(seq);
    Py_ReprLeave((PyObject *)v);
    return res;
}

static int keys_contains(ViewObject *v, PyObject *key)
{
    return blart_map_has(v->map, key);
}

static int items_contains(ViewObject *v, PyObject *item)
{
    if (!PyTuple_Check(item) || PyTuple_GET_SIZE(item) != 2)
        return 0;
    PyObject *found = blart_map_lookup(v->map, PyTuple_GET_ITEM(item, 0));
    if (found == NULL) {
        if (PyErr_Occurred()) {
            /* A key of the wrong type is simply not an item. */
            if (!PyErr_ExceptionMatches(PyExc_TypeError))
                return -1;
            PyErr_Clear();
        }
        return 0;
    }
    int r = PyObject_RichCompareBool(found, PyTuple_GET_ITEM(item, 1), Py_EQ);
    Py_DECREF(found);
    return r;
}

static int is_setlike_view(PyObject *o)
{
    PyTypeObject *t = Py_TYPE(o);
    if (t->tp_iter != (getiterfunc)view_iter)
        return 0;
    return view_yield((ViewObject *)o) != YIELD_VALUES;
}

/* Set operations as dict views do them: into a new set, then update. */
static PyObject *view_setop(PyObject *a, PyObject *b, const char *method,
                            int commutative)
{
    if (!is_setlike_view(a)) {
        if (commutative) {
            PyObject *t = a;
            a = b;
            b = t;
        }
    }
    PyObject *result = PySet_New(a);
    if (result == NULL)
        return NULL;
    PyObject *r = PyObject_CallMethod(result, method, "O", b);
    if (r == NULL) {
        Py_DECREF(result);
        return NULL;
    }
    Py_DECREF(r);
    return result;
}

static PyObject *view_or(PyObject *a, PyObject *b)
{
    return view_setop(a, b, "update", 1);
}
static int is_items_view(PyObject *o)
{
    return PyDictItems_Check(o) ||
           (is_setlike_view(o) && view_yield((ViewObject *)o) == YIELD_ITEMS);
}

/*
 * a ^ b for two items views, as dict's items views answer it: the pairs of
 * b that a does not hold, then those of a whose key b did not match.  A
 * pair found in both is found by containment, so values that match need
 * not be hashable.
 */
static PyObject *items_xor(PyObject *a, PyObject *b)
{
    PyObject *result = PySet_New(NULL), *matched = PySet_New(NULL);
    PyObject *it = NULL, *pair = NULL;
    if (result == NULL || matched == NULL || (it = PyObject_GetIter(b)) == NULL)
        goto error;
    while ((pair = PyIter_Next(it)) != NULL) {
        if (!PyTuple_Check(pair) || PyTuple_GET_SIZE(pair) != 2) {
            PyErr_SetString(PyExc_TypeError,
                            "items must be (key, value) pairs");
            goto error;
        }
        int in = PySequence_Contains(a, pair);
        if (in < 0 || PySet_Add(in ? matched : result,
                                in ? PyTuple_GET_ITEM(pair, 0) : pair) < 0)
            goto error;
        Py_CLEAR(pair);
    }
    if (PyErr_Occurred())
        goto error;
    Py_SETREF(it, PyObject_GetIter(a));
    if (it == NULL)
        goto error;
    while ((pair = PyIter_Next(it)) != NULL) {
        int seen = PySet_Contains(matched, PyTuple_GET_ITEM(pair, 0));
        if (seen < 0 || (!seen && PySet_Add(result, pair) < 0))
            goto error;
        Py_CLEAR(pair);
    }
    if (PyErr_Occurred())
        goto error;
    Py_DECREF(it);
    Py_DECREF(matched);
    return result;
error:
    Py_XDECREF(pair);
    Py_XDECREF(it);
    Py_XDECREF(matched);
    Py_XDECREF(result);
    return NULL;
}

static PyObject *view_xor(PyObject *a, PyObject *b)
{
    if (is_items_view(a) && is_items_view(b))
        return items_xor(a, b);
    return view_setop(a, b, "symmetric_difference_update", 1);
}
static PyObject *view_sub(PyObject *a, PyObject *b)
{
    return view_setop(a, b, "difference_update", 0);
}

/*
 * Whether x is an element of the set-like view v, as a set answers: what
 * cannot be a key (or an item) is simply not in it, whereas `x in view`
 * reports a wrong key type, like `x in m`.
 */
static int view_has(ViewObject *v, PyObject *x)
{
    if (view_yield(v) == YIELD_KEYS && !blart_key_type_ok(v->map, x))
        return 0;
    return PySequence_Contains((PyObject *)v, x);
}

/* Whether every element of a is in b (1, 0 or -1), by containment, so
   that no value is ever hashed. */
static int all_contained_in(PyObject *a, PyObject *b)
{
    PyObject *it = PyObject_GetIter(a);
    if (it == NULL)
        return -1;
    int r = 1;
    PyObject *x;
    while (r == 1 && (x = PyIter_Next(it)) != NULL) {
        r = is_setlike_view(b) ? view_has((ViewObject *)b, x)
                               : PySequence_Contains(b, x);
        Py_DECREF(x);
    }
    Py_DECREF(it);
    if (r == 1 && PyErr_Occurred())
        r = -1;
    return r;
}

static int is_any_setlike_view(PyObject *o)
{
    return is_setlike_view(o) || PyDictKeys_Check(o) || PyDictItems_Check(o);
}

/*
 * a & b as dict's views answer it: the elements of the smaller side that
 * the other side contains, so that an item held by only one side is never
 * hashed (its value need not be hashable).
 */
static PyObject *view_and(PyObject *a, PyObject *b)
{
    if (!is_setlike_view(a)) {
        PyObject *t = a;
        a = b;
        b = t;
    }
    Py_ssize_t na = PyObject_Size(a);
    if (na < 0)
        return NULL;
    if (PySet_CheckExact(b) && na <= PySet_GET_SIZE(b))
        return PyObject_CallMethod(b, "intersection", "O", a);
    if (is_any_setlike_view(b)) {
        Py_ssize_t nb = PyObject_Size(b);
        if (nb < 0)
            return NULL;
        if (nb > na) {
            PyObject *t = a;
            a = b;
            b = t;
        }
    }
    /* a is a view, and b is not a larger one: b's elements are tried. */
    PyObject *result = PySet_New(NULL), *it = NULL, *x;
    if (result == NULL || (it = PyObject_GetIter(b)) == NULL)
        goto error;
    while ((x = PyIter_Next(it)) != NULL) {
        int in = is_setlike_view(a) ? view_has((ViewObject *)a, x)
                                    : PySequence_Contains(a, x);
        int r = in > 0 ? PySet_Add(result, x) : in;
        Py_DECREF(x);
        if (r < 0)
            goto error;
    }
    if (PyErr_Occurred())
        goto error;
    Py_DECREF(it);
    return result;
error:
    Py_XDECREF(it);
    Py_XDECREF(result);
    return NULL;
}

static PyObject *view_richcompare(PyObject *self, PyObject *other, int op)
{
    /* With the set-likes CPython knows, by sizes and containment as dict's
       views compare (values need not be hashable); others decide. */
    if (!PyAnySet_Check(other) && !is_any_setlike_view(other))
        Py_RETURN_NOTIMPLEMENTED;
    Py_ssize_t mine = PyObject_Size(self), theirs = PyObject_Size(other);
    if (mine < 0 || theirs < 0)
        return NULL;
    int r;
    switch (op) {
    case Py_EQ:
    case Py_NE:
        r = mine == theirs ? all_contained_in(self, other) : 0;
        if (r >= 0 && op == Py_NE)
            r = !r;
        break;
    case Py_LT:
    case Py_LE:
        r = (op == Py_LT ? mine < theirs : mine <= theirs)
                ? all_contained_in(self, other)
                : 0;
        break;
    default: /* Py_GT, Py_GE */
        r = (op == Py_GT ? mine > theirs : mine >= theirs)
                ? all_contained_in(other, self)
                : 0;
        break;
    }
    if (r < 0)
        return NULL;
    return PyBool_FromLong(r);
}

static PyObject *view_isdisjoint(PyObject *self, PyObject *other)
{
    PyObject *it = PyObject_GetIter(other);
    if (it == NULL)
        return NULL;
    ViewObject *v = (ViewObject *)self;
    PyObject *x;
    while ((x = PyIter_Next(it)) != NULL) {
        /* Set semantics: what cannot be a key is simply not in the view
           (whereas `x in view` reports a wrong key type, like `x in m`). */
        int r = view_has(v, x);
        Py_DECREF(x);
        if (r != 0) {
            Py_DECREF(it);
            if (r < 0)
                return NULL;
            Py_RETURN_FALSE;
        }
    }
    Py_DECREF(it);
    if (PyErr_Occurred())
        return NULL;
    Py_RETURN_TRUE;
}

static PyObject *view_get_mapping(ViewObject *v, void *closure)
{
    (void)closure;
    return PyDictProxy_New((PyObject *)v->map);
}

static PyGetSetDef view_getset[] = {
    {"mapping", (getter)view_get_mapping, NULL,
     "A read-only proxy of the map this view looks at.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyMethodDef setview_methods[] = {
    {"isdisjoint", (PyCFunction)view_isdisjoint, METH_O,
     "Return True if the view and the iterable have no element in common."},
    {"__reversed__", (PyCFunction)view_reversed, METH_NOARGS,
     "Iterate in descending key order."},
    {NULL, NULL, 0, NULL},
};

static PyMethodDef valuesview_methods[] = {
    {"__reversed__", (PyCFunction)view_reversed, METH_NOARGS,
     "Iterate in descending key order."},
    {NULL, NULL, 0, NULL},
};

/* clang-format off */
#define VIEW_COMMON_SLOTS                                  \
    {Py_tp_iter, view_iter}, {Py_tp_traverse, view_traverse}, {Py_tp_dealloc, view_dealloc}, \
        {Py_tp_repr, view_repr}, {Py_sq_length, view_len}, {Py_tp_getset, view_getset}
/* clang-format on */

static PyType_Slot keys_slots[] = {
    VIEW_COMMON_SLOTS,
    {Py_tp_doc, "A live view of a map's keys, in key order; set-like."},
    {Py_sq_contains, keys_contains},
    {Py_tp_methods, setview_methods},
    {Py_tp_richcompare, view_richcompare},
    {Py_nb_and, view_and},
    {Py_nb_or, view_or},
    {Py_nb_xor, view_xor},
    {Py_nb_subtract, view_sub},
    {0, NULL},
};

static PyType_Slot items_slots[] = {
    VIEW_COMMON_SLOTS,
    {Py_tp_doc, "A live view of a map's (key, value) pairs, in key order; "
                "set-like."},
    {Py_sq_contains, items_contains},
    {Py_tp_methods, setview_methods},
    {Py_tp_richcompare, view_richcompare},
    {Py_nb_and, view_and},
    {Py_nb_or, view_or},
    {Py_nb_xor, view_xor},
    {Py_nb_subtract, view_sub},
    {0, NULL},
};

static PyType_Slot values_slots[] = {
    VIEW_COMMON_SLOTS,
    {Py_tp_doc, "A live view of a map's values, in key order."},
    {Py_tp_methods, valuesview_methods},
    {0, NULL},
};

#ifdef Py_TPFLAGS_DISALLOW_INSTANTIATION
#define VIEW_FLAGS                                                             \
    (Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC |                                 \
     Py_TPFLAGS_DISALLOW_INSTANTIATION | Py_TPFLAGS_IMMUTABLETYPE)
#else
#define VIEW_FLAGS (Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC)
#endif

PyType_Spec blart_keys_spec = {"blart.TreeMapKeys", sizeof(ViewObject), 0,
                               VIEW_FLAGS, keys_slots};
PyType_Spec blart_values_spec = {"blart.TreeMapValues", sizeof(ViewObject), 0,
                                 VIEW_FLAGS, values_slots};
PyType_Spec blart_items_spec = {"blart.TreeMapItems", sizeof(ViewObject), 0,
                                VIEW_FLAGS, items_slots};
