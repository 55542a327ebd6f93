"""motcua: queue system for a Vietnamese one-stop office (bộ phận một cửa).

This package holds what every Pi shares: the site config, the MQTT contract
(docs/protocol.md), the MQTT link and the ``motcua`` command. Each room of the
office is its own subpackage: ``motcua.kiosk``, ``motcua.caller``,
``motcua.counter``, ``motcua.display``.
"""

__version__ = "0.1.0"
