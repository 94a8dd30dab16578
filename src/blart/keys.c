/*
 * keys.c -- keys between Python and the tree: the type checks and a key
 * object for a key's bytes.
 *
 * The other direction, a Python key's bytes (key_get, key_release), runs
 * on every access and is inline in _blart.h.  TreeMap's keys are the
 * UTF-8 of a str, lone surrogates encoded as any code point; BytesTreeMap
 * takes any bytes-like object and gives back bytes.
 */
#include "_blart.h"

int blart_key_type_error(MapObject *m, PyObject *key)
{
    PyErr_Format(PyExc_TypeError,
                 m->bytes_keys
                     ? "%s keys must be bytes-like (bytes, bytearray, "
                       "memoryview), not %.200s"
                     : "%s keys must be str, not %.200s",
                 map_kind_name(m), Py_TYPE(key)->tp_name);
    return -1;
}

int blart_key_type_ok(MapObject *m, PyObject *key)
{
    if (!m->bytes_keys)
        return PyUnicode_Check(key);
    return !PyUnicode_Check(key) && PyObject_CheckBuffer(key);
}

/* Whether p[0..n) is all ASCII: the words or-ed together, the last one
   overlapping the one before, with no branch per word. */
static int is_ascii(const uint8_t *p, size_t n)
{
    uint64_t acc = 0, w;
    if (n < 8) {
        for (size_t i = 0; i < n; i++)
            acc |= p[i];
        return !(acc & 0x80);
    }
    for (size_t i = 0; i + 8 <= n; i += 8) {
        memcpy(&w, p + i, 8);
        acc |= w;
    }
    memcpy(&w, p + n - 8, 8);
    acc |= w;
    return !(acc & UINT64_C(0x8080808080808080));
}

PyObject *blart_key_new(MapObject *m, const uint8_t *p, size_t n)
{
    if (m->bytes_keys)
        return PyBytes_FromStringAndSize((const char *)p, (Py_ssize_t)n);
    if (n > 0 && is_ascii(p, n)) {
        /* The common case, without the decoder's generic machinery. */
        PyObject *s = PyUnicode_New((Py_ssize_t)n, 127);
        if (s)
            memcpy(PyUnicode_DATA(s), p, n);
        return s;
    }
    PyObject *s =
        PyUnicode_DecodeUTF8((const char *)p, (Py_ssize_t)n, "surrogatepass");
    if (s == NULL && m->file && PyErr_ExceptionMatches(PyExc_UnicodeError)) {
        PyErr_Clear();
        blart_format_error(m->state, m->file, "a key is not valid UTF-8");
    }
    return s;
}
