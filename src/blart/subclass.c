/*
 * subclass.c -- what a subclass of the map types gets as a dict subclass
 * does: its attributes (its __dict__ and its __slots__) carried by
 * copy(), copy.copy, copy.deepcopy and pickle, and its __missing__
 * called by m[key].  The methods that use them live in map.c; FrozenTreeMap's
 * __reduce__ (_persist.py) gets the same state from its _state.
 */
#include "_blart.h"

/*
 * The attributes of a subclass instance as copies and pickles carry them,
 * in the shape pickle's protocol 2 gives a dict subclass: None, the
 * instance's __dict__, or (the __dict__ or None, {slot name: value}) when
 * its class has __slots__ that are set.  Unset slots are left out.
 */
PyObject *blart_instance_state(PyObject *self)
{
    PyObject *dict = NULL, *slots = NULL, *names = NULL, *res = NULL;
    /* No __dict__ and nothing past the map's own fields: no attributes
       (the library's types, and subclasses with empty __slots__), known
       without asking copyreg. */
    if (Py_TYPE(self)->tp_dictoffset == 0 &&
        Py_TYPE(self)->tp_basicsize == sizeof(MapObject))
        Py_RETURN_NONE;
    if (Py_TYPE(self)->tp_dictoffset != 0) {
        dict = PyObject_GetAttrString(self, "__dict__");
        if (dict == NULL)
            return NULL;
        if (PyDict_GET_SIZE(dict) == 0)
            Py_CLEAR(dict);
    }
    PyObject *copyreg = PyImport_ImportModule("copyreg");
    if (copyreg == NULL)
        goto done;
    names = PyObject_CallMethod(copyreg, "_slotnames", "(O)",
                                (PyObject *)Py_TYPE(self));
    Py_DECREF(copyreg);
    if (names == NULL)
        goto done;
    PyObject *seq = PySequence_Fast(names, "__slotnames__ must be a list");
    Py_SETREF(names, seq);
    if (names == NULL)
        goto done;
    for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(names); i++) {
        PyObject *name = PySequence_Fast_GET_ITEM(names, i);
        PyObject *value = PyObject_GetAttr(self, name);
        if (value == NULL) {
            if (!PyErr_ExceptionMatches(PyExc_AttributeError))
                goto done;
            PyErr_Clear(); /* an unset slot */
            continue;
        }
        if (slots == NULL && (slots = PyDict_New()) == NULL) {
            Py_DECREF(value);
            goto done;
        }
        int r = PyDict_SetItem(slots, name, value);
        Py_DECREF(value);
        if (r < 0)
            goto done;
    }
    if (slots)
        res = PyTuple_Pack(2, dict ? dict : Py_None, slots);
    else
        res = Py_NewRef(dict ? dict : Py_None);
done:
    Py_XDECREF(dict);
    Py_XDECREF(slots);
    Py_XDECREF(names);
    return res;
}

/* Gives self the attributes instance_state() took from another instance,
   shallowly, as copy.copy does. */
int blart_set_instance_state(PyObject *self, PyObject *state)
{
    PyObject *dict = state, *slots = NULL;
    if (PyTuple_Check(state)) {
        dict = PyTuple_GET_ITEM(state, 0);
        slots = PyTuple_GET_ITEM(state, 1);
    }
    if (dict != Py_None) {
        PyObject *mine = PyObject_GetAttrString(self, "__dict__");
        int r = mine ? PyDict_Update(mine, dict) : -1;
        Py_XDECREF(mine);
        if (r < 0)
            return -1;
    }
    Py_ssize_t pos = 0;
    PyObject *name, *value;
    while (slots && PyDict_Next(slots, &pos, &name, &value))
        if (PyObject_SetAttr(self, name, value) < 0)
            return -1;
    return 0;
}

/*
 * A subclass's __missing__, looked up on its type as dict looks it up
 * (the instance's own attributes are not searched) and bound to m; NULL
 * with no exception when there is none.
 */
PyObject *blart_find_missing(MapObject *m)
{
    blart_state *st = m->state;
    PyTypeObject *type = Py_TYPE(m);
    if (type == st->TreeMap_Type || type == st->BytesTreeMap_Type ||
        type == st->FrozenTreeMap_Type)
        return NULL;
    PyObject *name = PyUnicode_InternFromString("__missing__");
    if (name == NULL)
        return NULL;
    PyObject *mro = type->tp_mro, *found = NULL;
    for (Py_ssize_t i = 0; mro && i < PyTuple_GET_SIZE(mro); i++) {
        PyTypeObject *base = (PyTypeObject *)PyTuple_GET_ITEM(mro, i);
        if (base == st->TreeMap_Type || base == st->BytesTreeMap_Type ||
            base == st->FrozenTreeMap_Type)
            break; /* the library's own types have none */
        if (base->tp_dict == NULL)
            continue;
        PyObject *f = PyDict_GetItemWithError(base->tp_dict, name);
        if (f == NULL) {
            if (PyErr_Occurred())
                break;
            continue;
        }
        Py_INCREF(f); /* borrowed from a dict that binding could change */
        descrgetfunc get = Py_TYPE(f)->tp_descr_get;
        if (get) {
            found = get(f, (PyObject *)m, (PyObject *)type);
            Py_DECREF(f);
        } else {
            found = f;
        }
        break;
    }
    Py_DECREF(name);
    return found;
}
