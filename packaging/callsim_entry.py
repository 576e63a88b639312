"""The bundle's executable: the same ``main`` as the ``callsim`` console script.

With no subcommand it opens the GUI; ``callsim run``, ``serve``, ``doctor`` and any
subcommand ``app.cli`` gains later work as in a source install (the spec collects every
``app`` module, since ``app.cli`` imports each subcommand's code lazily).
"""

import sys

from app.cli import main

if __name__ == "__main__":
    sys.exit(main())
