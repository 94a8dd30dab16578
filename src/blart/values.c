/*
 * values.c -- the values of blart files (docs/format.md): how save()
 * encodes each value into a reference and, when it needs one, a record of
 * the values section; how load() and FrozenTreeMap check and decode them;
 * and the checks of a file's flags and values section they share.
 *
 * Not here: the nodes (core/art_file.c), writing a file (save.c), reading
 * one (load.c, frozen.c).
 */
#include "_blart.h"

/* Value references: the low 3 bits say what the rest is. */
#define REF_RECORD     0u /* offset of a record in the values section */
#define REF_INT        1u /* a signed 61-bit int in the upper bits */
#define REF_CONST      2u /* 0 None, 1 False, 2 True in the upper bits */
#define INLINE_INT_MIN (-((int64_t)1 << 60))
#define INLINE_INT_MAX (((int64_t)1 << 60) - 1)

/* Record kinds. */
enum { REC_INT = 1, REC_FLOAT, REC_STR, REC_BYTES, REC_PICKLE };

static const char values_magic[8] = {'V', 'A', 'L', 'U', 'E', 'S', 0, 0};

static uint64_t le64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8); /* the format exists only on little-endian hosts */
    return v;
}

/*
 * Ints that do not fit in a reference are stored as int.to_bytes gives
 * them: little-endian two's complement, in bit_length() // 8 + 1 bytes.
 * They are converted by int's own methods, called from here: the public
 * C API has no arbitrary-size conversion before 3.13.
 */
static PyObject *call_little_signed(PyObject *obj, const char *method,
                                    PyObject *arg)
{
    PyObject *f = PyObject_GetAttrString(obj, method);
    PyObject *args = f ? Py_BuildValue("(Os)", arg, "little") : NULL;
    PyObject *kwargs = args ? Py_BuildValue("{sO}", "signed", Py_True) : NULL;
    PyObject *r = kwargs ? PyObject_Call(f, args, kwargs) : NULL;
    Py_XDECREF(kwargs);
    Py_XDECREF(args);
    Py_XDECREF(f);
    return r;
}

static PyObject *int_to_bytes(PyObject *v)
{
    PyObject *bits = PyObject_CallMethod(v, "bit_length", NULL);
    if (bits == NULL)
        return NULL;
    size_t n = PyLong_AsSize_t(bits);
    Py_DECREF(bits);
    if (n == (size_t)-1 && PyErr_Occurred())
        return NULL;
    PyObject *len = PyLong_FromSize_t(n / 8 + 1);
    if (len == NULL)
        return NULL;
    PyObject *b = call_little_signed(v, "to_bytes", len);
    Py_DECREF(len);
    return b;
}

static PyObject *int_from_bytes(const char *p, Py_ssize_t n)
{
    PyObject *b = PyBytes_FromStringAndSize(p, n);
    if (b == NULL)
        return NULL;
    PyObject *v = call_little_signed((PyObject *)&PyLong_Type, "from_bytes", b);
    Py_DECREF(b);
    return v;
}

/*
 * Values of other types are pickled (protocol 5) by the standard
 * library's pickle, imported on first use into the module state: only
 * maps saved or opened with allow_pickle need it.
 */
static PyObject *pickle_module(blart_state *st)
{
    if (st->pickle == NULL) {
        PyObject *mod = PyImport_ImportModule("pickle");
        if (mod == NULL)
            return NULL;
        st->UnpicklingError = PyObject_GetAttrString(mod, "UnpicklingError");
        if (st->UnpicklingError == NULL) {
            Py_DECREF(mod);
            return NULL;
        }
        st->pickle = mod;
    }
    return st->pickle;
}

static PyObject *pickle_value(blart_state *st, PyObject *v)
{
    PyObject *mod = pickle_module(st);
    return mod ? PyObject_CallMethod(mod, "dumps", "Oi", v, 5) : NULL;
}

/*
 * A pickled value of f; a damaged pickle is a damaged file (FormatError,
 * the pickle's error as its cause).  Errors raised by the unpickled
 * objects' own code pass through unchanged.
 */
static PyObject *unpickle(blart_state *st, const struct frozen_file *f,
                          const char *p, Py_ssize_t n)
{
    PyObject *mod = pickle_module(st);
    if (mod == NULL)
        return NULL;
    PyObject *data = PyMemoryView_FromMemory((char *)p, n, PyBUF_READ);
    if (data == NULL)
        return NULL;
    PyObject *v = PyObject_CallMethod(mod, "loads", "(O)", data);
    Py_DECREF(data);
    if (v != NULL || !(PyErr_ExceptionMatches(st->UnpicklingError) ||
                       PyErr_ExceptionMatches(PyExc_EOFError)))
        return v;
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    PyErr_NormalizeException(&type, &value, &tb);
    if (tb)
        PyException_SetTraceback(value, tb);
    PyObject *err = PyObject_CallFunction(
        st->FormatError, "N",
        PyUnicode_FromFormat("%R is not a valid blart file: a pickled value "
                             "is damaged: %S",
                             f->path, value));
    if (err) {
        Py_INCREF(value);
        PyException_SetContext(err, value);
        PyException_SetCause(err, value); /* takes value's reference */
        PyErr_SetObject(st->FormatError, err);
        Py_DECREF(err);
    } else {
        Py_DECREF(value);
    }
    Py_DECREF(type);
    Py_XDECREF(tb);
    return NULL;
}

/* FormatError naming f's file, for a value found damaged: NULL. */
PyObject *blart_format_error(blart_state *st, const struct frozen_file *f,
                             const char *why)
{
    blart_file_error(st, ART_EFORMAT, why, f->path);
    return NULL;
}

/*
 * Checks a value reference and, for a record, its header; returns the
 * record kind (0 for an inline value) or -1 with *why set.
 */
int blart_check_ref(const struct frozen_file *f, uint64_t ref, uint64_t *len,
                    const char **why)
{
    switch (ref & 7u) {
    case REF_INT:
        return 0;
    case REF_CONST:
        if ((ref >> 3) > 2) {
            *why = "unknown constant value";
            return -1;
        }
        return 0;
    case REF_RECORD:
        break;
    default:
        *why = "unknown kind of value reference";
        return -1;
    }
    if (ref < 8 || f->values_size < 8 || ref > f->values_size - 8) {
        *why = "value reference outside the values section";
        return -1;
    }
    uint64_t word = le64(f->values + ref);
    int kind = (int)(word & 0xFF);
    *len = word >> 8;
    if (*len > f->values_size - ref - 8) {
        *why = "value record runs past the values section";
        return -1;
    }
    if (kind < REC_INT || kind > REC_PICKLE) {
        *why = "value record of unknown kind";
        return -1;
    }
    if ((kind == REC_FLOAT && *len != 8) || (kind == REC_INT && *len == 0)) {
        *why = "value record of the wrong length";
        return -1;
    }
    if (kind == REC_PICKLE && !f->has_pickle) {
        *why = "pickled value in a file whose header says it has none";
        return -1;
    }
    return kind;
}

/* The Python value of reference ref in file f: a new reference, or NULL
   with an exception (FormatError naming the file when ref is damaged). */
PyObject *blart_decode_value(blart_state *st, const struct frozen_file *f,
                             uint64_t ref)
{
    const char *why = NULL;
    uint64_t len = 0;
    int kind = blart_check_ref(f, ref, &len, &why);
    if (kind < 0)
        return blart_format_error(st, f, why);
    if (kind == 0) {
        if ((ref & 7u) == REF_INT)
            return PyLong_FromLongLong((long long)((int64_t)ref >> 3));
        PyObject *c = (ref >> 3) == 0   ? Py_None
                      : (ref >> 3) == 1 ? Py_False
                                        : Py_True;
        Py_INCREF(c);
        return c;
    }
    const char *p = (const char *)f->values + ref + 8;
    Py_ssize_t n = (Py_ssize_t)len;
    switch (kind) {
    case REC_FLOAT: {
        double d;
        memcpy(&d, p, 8);
        return PyFloat_FromDouble(d);
    }
    case REC_STR: {
        PyObject *s = PyUnicode_DecodeUTF8(p, n, "surrogatepass");
        if (s == NULL && PyErr_ExceptionMatches(PyExc_UnicodeError)) {
            PyErr_Clear();
            return blart_format_error(st, f, "a str value is not UTF-8");
        }
        return s;
    }
    case REC_BYTES:
        return PyBytes_FromStringAndSize(p, n);
    case REC_INT:
        return int_from_bytes(p, n);
    default:
        if (!f->allow_pickle) /* refused at open; never reached */
            return blart_format_error(st, f,
                                      "pickled value without allow_pickle");
        return unpickle(st, f, p, n);
    }
}

/* Appends a record; its offset in *ref. */
static int add_record(blart_values_out *out, int kind, const void *data,
                      size_t n, uint64_t *ref)
{
    size_t need = 8 + ((n + 7) & ~(size_t)7);
    if (n > ((uint64_t)1 << 56) - 1 || need < n ||
        out->values_len > PY_SSIZE_T_MAX - need) {
        PyErr_SetString(PyExc_OverflowError, "value too large to save");
        return -1;
    }
    if (out->values_len + need > out->values_cap) {
        size_t cap = out->values_cap * 2;
        if (cap < out->values_len + need)
            cap = out->values_len + need;
        uint8_t *p = PyMem_Realloc(out->values, cap);
        if (p == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        out->values = p;
        out->values_cap = cap;
    }
    uint8_t *o = out->values + out->values_len;
    uint64_t word = ((uint64_t)n << 8) | (uint64_t)kind;
    memcpy(o, &word, 8);
    if (n)
        memcpy(o + 8, data, n);
    memset(o + 8 + n, 0, need - 8 - n);
    *ref = out->values_len;
    out->values_len += need;
    return 0;
}

int blart_values_begin(blart_values_out *out)
{
    uint64_t ignored;
    /* The values section begins with its magic, so no record is at 0. */
    if (add_record(out, 0, NULL, 0, &ignored) < 0)
        return -1;
    memcpy(out->values, values_magic, 8);
    return 0;
}

/* A record holding the bytes object b (consumed). */
static int add_bytes_record(blart_values_out *out, int kind, PyObject *b,
                            uint64_t *ref)
{
    if (b == NULL)
        return -1;
    int r = add_record(out, kind, PyBytes_AS_STRING(b),
                       (size_t)PyBytes_GET_SIZE(b), ref);
    Py_DECREF(b);
    return r;
}

int blart_encode_value(void *value, uint64_t *ref, blart_values_out *out)
{
    PyObject *v = (PyObject *)value;
    if (v == Py_None || v == Py_False || v == Py_True) {
        uint64_t c = v == Py_None ? 0 : v == Py_False ? 1 : 2;
        *ref = (c << 3) | REF_CONST;
        return 0;
    }
    int r = -1;
    /* Code may run below (pickling, the GC): hold the value. */
    Py_INCREF(v);
    if (PyLong_CheckExact(v)) {
        int overflow;
        long long x = PyLong_AsLongLongAndOverflow(v, &overflow);
        if (!overflow && x >= INLINE_INT_MIN && x <= INLINE_INT_MAX) {
            *ref = ((uint64_t)x << 3) | REF_INT;
            r = 0;
        } else if (!PyErr_Occurred()) {
            r = add_bytes_record(out, REC_INT, int_to_bytes(v), ref);
        }
    } else if (PyFloat_CheckExact(v)) {
        double d = PyFloat_AS_DOUBLE(v);
        r = add_record(out, REC_FLOAT, &d, 8, ref);
    } else if (PyUnicode_CheckExact(v)) {
        if (PyUnicode_IS_ASCII(v))
            r = add_record(out, REC_STR, PyUnicode_DATA(v),
                           (size_t)PyUnicode_GET_LENGTH(v), ref);
        else
            r = add_bytes_record(
                out, REC_STR,
                PyUnicode_AsEncodedString(v, "utf-8", "surrogatepass"), ref);
    } else if (PyBytes_CheckExact(v)) {
        r = add_record(out, REC_BYTES, PyBytes_AS_STRING(v),
                       (size_t)PyBytes_GET_SIZE(v), ref);
    } else if (out->allow_pickle) {
        out->has_pickle = 1;
        r = add_bytes_record(out, REC_PICKLE, pickle_value(out->st, v), ref);
    } else {
        PyErr_Format(PyExc_ValueError,
                     "cannot save a value of type %.200s without "
                     "allow_pickle=True (only None, bool, int, float, str "
                     "and bytes are stored natively)",
                     Py_TYPE(v)->tp_name);
    }
    Py_DECREF(v);
    return r;
}

/* A failed art_file_* call as a Python exception naming path. */
void blart_file_error(blart_state *st, int r, const char *why, PyObject *path)
{
    if (r == ART_ENOMEM)
        PyErr_NoMemory();
    else if (r == ART_EINVAL)
        PyErr_Format(PyExc_OSError, "cannot open %R: %s", path, why);
    else
        PyErr_Format(st->FormatError, "%R is not a valid blart file: %s", path,
                     why);
}

/*
 * What load and FrozenTreeMap check once the header is parsed and the
 * checksum verified, before the nodes: the flags (unknown bits, pickled
 * values) and the values section.  Returns 0, or -1 with FormatError
 * (naming path) or ValueError.
 */
int blart_check_sections(blart_state *st, struct frozen_file *f,
                         const art_file_header *h, const uint8_t *values,
                         PyObject *path)
{
    if (h->flags & ~KNOWN_FLAGS) {
        blart_file_error(st, ART_EFORMAT, "unknown flags", path);
        return -1;
    }
    f->has_pickle = (h->flags & FLAG_PICKLED) != 0;
    if (f->has_pickle && !f->allow_pickle) {
        PyErr_Format(PyExc_ValueError,
                     "%R holds pickled values; pass allow_pickle=True to "
                     "load it (only for files you trust: unpickling can run "
                     "any code)",
                     path);
        return -1;
    }
    f->values = values;
    f->values_size = h->values_size;
    if (f->values_size < 8 || memcmp(values, values_magic, 8) != 0) {
        blart_file_error(st, ART_EFORMAT, "bad values section", path);
        return -1;
    }
    return 0;
}
