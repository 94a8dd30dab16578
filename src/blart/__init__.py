"""blart: ordered str and bytes maps on an adaptive radix tree written in C.

``TreeMap`` maps ``str`` keys and ``BytesTreeMap`` maps bytes keys to any
values.  Both are full ``collections.abc.MutableMapping`` types that iterate
in sorted key order.
"""

from collections.abc import ItemsView, KeysView, MutableMapping, ValuesView

from ._blart import (
    BytesTreeMap,
    TreeMap,
    TreeMapItems,
    TreeMapIterator,
    TreeMapKeys,
    TreeMapValues,
)

__all__ = ["BytesTreeMap", "TreeMap"]
__version__ = "0.1.0"

MutableMapping.register(TreeMap)
MutableMapping.register(BytesTreeMap)
KeysView.register(TreeMapKeys)
ValuesView.register(TreeMapValues)
ItemsView.register(TreeMapItems)

del ItemsView, KeysView, MutableMapping, ValuesView
del TreeMapItems, TreeMapIterator, TreeMapKeys, TreeMapValues
