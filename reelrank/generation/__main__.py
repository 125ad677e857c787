"""`python -m reelrank.generation --home H`: the same as `reelrank worker`."""

import sys

from reelrank.generation.cli import worker_main

sys.exit(worker_main())
