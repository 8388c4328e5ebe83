"""`python -m edge_captioner.cli`, as the tests and scripts run the console script."""

from . import main

raise SystemExit(main())
