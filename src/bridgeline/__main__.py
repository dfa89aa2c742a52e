"""``python -m bridgeline``: the ``bridgeline`` command."""

from bridgeline.cli import main

raise SystemExit(main())
