"""The channel catalog: what every channel is (``channels.py``), how a catalog is laid out and
hashed (``model.py``), and every version the platform has used (``history.py``, ``versions/``).

``CATALOG`` is the current catalog, knowing its history: read data of any registered version with
``CATALOG.known(hash)`` and ``CATALOG.from_payload(values, that_version)``.
"""

from p424.catalog.channels import CATALOG_VERSION, CHANNELS
from p424.catalog.history import registered_versions
from p424.catalog.model import ABSENT, Catalog, Channel, Kind, Transport

CATALOG = Catalog(CHANNELS, CATALOG_VERSION, history=registered_versions())

__all__ = ["ABSENT", "CATALOG", "CATALOG_VERSION", "CHANNELS", "Catalog", "Channel", "Kind", "Transport"]
