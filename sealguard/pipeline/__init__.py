"""The one path every input shares in a monitor: admit -> dedupe -> evaluate -> store -> acknowledge.

Its parts, in the order an input meets them:

- ``batching``: what is waiting in the queue, up to a batch;
- ``admission``: decoded, validated, allowed for its sender, plausibly dated (pure);
- ``evaluate``: the rule engine and the alert book over the batch, collecting rows to write (pure);
- ``commit`` and ``alert_changes``: one transaction with events, dead letters, clock ticks, alert
  changes, their history and their notifications;
- ``recovery``: the engine rebuilt from the database (snapshot plus log) after any failure;
- ``clocks``: each quiet tenant's clock advanced with the injected monotonic clock;
- ``core.Pipeline``: the loop that owns them, with failure isolation.
"""

from sealguard.pipeline.core import Pipeline
from sealguard.pipeline.items import Act, Inbound, Item, ItemFailed, ItemResult, Tick
from sealguard.pipeline.recovery import EngineBusy

__all__ = ["Act", "EngineBusy", "Inbound", "Item", "ItemFailed", "ItemResult", "Pipeline", "Tick"]
