"""`python -m generation --home H`: the same as `reelrank worker`."""

import sys

from generation.cli import worker_main

sys.exit(worker_main())
