"""``python -m buka_nb`` runs the ``buka-nb`` command line."""

import sys

from .cli import main

sys.exit(main())
