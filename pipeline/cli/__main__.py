"""`python -m pipeline.cli.main ...` is `gencheck ...`."""

import sys

from pipeline.cli.main import main

sys.exit(main())
