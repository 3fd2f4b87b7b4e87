"""`python -m deploy`: the same as `python -m deploy.generate`."""

import sys

from deploy.generate import main

sys.exit(main())
