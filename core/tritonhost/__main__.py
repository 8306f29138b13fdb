"""``python -m tritonhost``: the same as the ``tritonhost`` command."""

import sys

from tritonhost.cli import main

sys.exit(main())
