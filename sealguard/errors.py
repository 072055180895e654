"""The root of every error sealguard raises on purpose, so a caller can catch ours apart from bugs.

Each package keeps its own errors beside the code that raises them, with structured fields (the event
id, the rule, the channel) rather than only a message, and library errors are re-raised ``from`` at the
boundary where they are caught::

    SealguardError
     |-- InvalidEvent        schemas.decode    bytes that are not a valid event (reason, event_id, where)
     |-- PolicyError         rules.policy      a policy file that cannot be used
     |-- ConfigError         alerts.config     an alerting file that cannot be used
     |-- DeliveryError       alerts.channels   a receiver refused or could not be reached (retryable)
     |-- MalformedPacket     ingest.mqtt_wire  MQTT bytes the login front cannot parse
     |-- EngineBusy          stream.log        another process reads this database's embedded log
     |-- DataDirBusy         runtime           another process holds the data directory
     |-- HttpStartFailed     serving           the web server did not start (port taken, a part failed)
     |-- RoleConfigError     roles             a split role started without what it needs
     |-- RoadsFileError      roads             the operator's roads file for the offline map is unusable
     |-- Fenced              worker            another worker committed the partition meanwhile
     '-- CommandError        cli_live          a command line that cannot be carried out

The foundation layer: it imports nothing of ours, and every layer may import it.
"""


class SealguardError(Exception):
    """Something sealguard refuses, with a reason meant for the person or program that asked."""
