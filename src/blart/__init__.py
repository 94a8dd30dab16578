"""blart: ordered str and bytes maps on an adaptive radix tree written in C.

``TreeMap`` maps ``str`` keys and ``BytesTreeMap`` maps bytes keys to any
values.  Both are full ``collections.abc.MutableMapping`` types that iterate
in sorted key order.  ``save`` writes either to a file; ``load`` reads it
back, and ``FrozenTreeMap`` serves it read-only straight from the mapped
file, shared between processes.
"""

from collections.abc import ItemsView, KeysView, Mapping, MutableMapping, ValuesView

from ._blart import (
    BytesTreeMap,
    FormatError,
    FrozenTreeMap,
    TreeMap,
    TreeMapItems,
    TreeMapIterator,
    TreeMapKeys,
    TreeMapValues,
)

# isort: split
from . import _persist

__all__ = ["BytesTreeMap", "FormatError", "FrozenTreeMap", "TreeMap"]
__version__ = "0.1.0"

# Files are Python's to open, write and map: save, load and opening a
# FrozenTreeMap are written in _persist, which calls C once for each.
_persist.install((TreeMap, BytesTreeMap), FrozenTreeMap)

MutableMapping.register(TreeMap)
MutableMapping.register(BytesTreeMap)
Mapping.register(FrozenTreeMap)
KeysView.register(TreeMapKeys)
ValuesView.register(TreeMapValues)
ItemsView.register(TreeMapItems)

del ItemsView, KeysView, Mapping, MutableMapping, ValuesView
del TreeMapItems, TreeMapIterator, TreeMapKeys, TreeMapValues
