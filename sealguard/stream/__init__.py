"""The data path from the edge to the operator, without the processes that run it:

- ``admission``: an input decoded, validated, allowed for its sender, plausibly dated (pure);
- ``interop``: partner formats translated, and their devices bound to conveyances, before admission;
- ``log``: the log between the gateway and the worker (Kafka, or PostgreSQL for ``up``);
- ``operator``: the engine, the alert book and the seal facts behind one interface (pure);
- ``replay`` and ``partitioned``: the operator over a file, whole or as the split roles decide;
- ``alert_changes``: alert changes, their history and their notifications, written in the worker's
  transaction, and people's actions on alerts;
- ``clocks``: each quiet tenant's clock advanced with the injected monotonic clock (pure);
- ``verdicts``: what the worker decided, for a sender in the same process;
- ``live``: what changed, for the web API's streams;
- ``items``, ``outage``: clock ticks and people's actions; waiting out a database outage.

The processes that drive it are in ``sealguard.roles`` (the worker, the gateway, ``up``'s monitor).
"""

from sealguard.stream.items import Act, Inbound, ItemResult, Tick

__all__ = ["Act", "Inbound", "ItemResult", "Tick"]
