"""`python -m bench [--runs N]` (what `make bench` runs)."""

import sys

from bench.run import main

sys.exit(main())
