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

__all__ = ["BytesTreeMap", "FormatError", "FrozenTreeMap", "TreeMap"]
__version__ = "0.1.0"

MutableMapping.register(TreeMap)
MutableMapping.register(BytesTreeMap)
Mapping.register(FrozenTreeMap)
KeysView.register(TreeMapKeys)
ValuesView.register(TreeMapValues)
ItemsView.register(TreeMapItems)

del ItemsView, KeysView, Mapping, MutableMapping, ValuesView
del TreeMapItems, TreeMapIterator, TreeMapKeys, TreeMapValues
