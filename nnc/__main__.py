"""`python -m nnc` is the `nnc` command."""
import sys

from nnc.cli import main

sys.exit(main())
