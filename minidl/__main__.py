"""`python -m minidl ...` runs the same command line as `minidl ...`."""
from .cli import main

raise SystemExit(main())
