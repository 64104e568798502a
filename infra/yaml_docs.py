"""YAML documents parsed once per content: `safe_load(text)` is `yaml.safe_load(text)`, remembered by the text.

The processes folder's YAML files (the organisation, notices, meanings, routes out, simulations, notification
templates) are read again on each deployment, each app and each check, and parsing them is most of the time a
deployment spends outside its simulations. The result depends on the text alone, so it is kept by a digest of
the text (a bounded number of documents) and each caller gets its own deep copy, which it may change freely.
A text that does not parse raises as `yaml.safe_load` does, every time (errors are not kept).
"""
from __future__ import annotations

import copy
import hashlib
import threading
from collections import OrderedDict

import yaml

MAX_DOCUMENTS = 64
_DOCS: OrderedDict[bytes, object] = OrderedDict()
_LOCK = threading.Lock()


def safe_load(text: str | bytes):
    if isinstance(text, str):
        key = hashlib.sha256(b"s" + text.encode("utf-8", "surrogatepass")).digest()
    elif isinstance(text, bytes):
        key = hashlib.sha256(b"b" + text).digest()
    else:  # a stream: read by the parser, nothing to remember it by
        return yaml.safe_load(text)
    with _LOCK:
        doc = _DOCS.get(key, _DOCS)
        if doc is not _DOCS:
            _DOCS.move_to_end(key)
    if doc is _DOCS:
        doc = yaml.safe_load(text)
        with _LOCK:
            _DOCS[key] = doc
            while len(_DOCS) > MAX_DOCUMENTS:
                _DOCS.popitem(last=False)
    return copy.deepcopy(doc)
