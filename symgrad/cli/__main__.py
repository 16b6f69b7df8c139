"""`python -m symgrad.cli`: the same as the `symgrad` command."""

import sys

from .main import main

sys.exit(main())
