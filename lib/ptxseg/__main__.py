"""``python -m ptxseg``: the same command line as the ``ptxseg`` console script."""

import sys

from ptxseg.cli.main import main

sys.exit(main())
