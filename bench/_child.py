"""Run ``sealguard`` with the given arguments and report this process's own peak RSS on stderr.

``RUSAGE_CHILDREN`` in the parent would also count the pages a forked child shares with the
parent before ``exec``, which inflates the figure by the benchmark's own memory.
"""

import resource
import sys

from sealguard.cli import main

if __name__ == "__main__":
    status = main(sys.argv[1:])
    print(f"peak_rss_kib={resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}", file=sys.stderr)
    sys.exit(status)
