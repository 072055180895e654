"""``python -m sealguard.cli``: the command line."""

import sys

from sealguard.cli import main

sys.exit(main())
