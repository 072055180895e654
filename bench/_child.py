"""Run ``sealguard`` with the given arguments and report this process's own peak RSS on stderr.

Linux carries the pre-``exec`` high-water mark of a forked child into ``ru_maxrss`` (so it would
count the benchmark's own memory); ``VmHWM`` belongs to the current address space and does not.
"""

import resource
import sys
from pathlib import Path

from sealguard.cli import main


def peak_rss_kib() -> int:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


if __name__ == "__main__":
    status = main(sys.argv[1:])
    print(f"peak_rss_kib={peak_rss_kib()}", file=sys.stderr)
    sys.exit(status)
