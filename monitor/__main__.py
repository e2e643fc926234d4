"""`python -m monitor` runs the `siaga` command."""

import sys

from monitor.cli import main

sys.exit(main())
