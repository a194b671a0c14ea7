"""`python -m app_operator run` is `app-operator run`."""

import sys

from app_operator.cli import main

sys.exit(main())
