"""`python -m nnc` is the `nnc` command."""
import sys

from .cli import main

sys.exit(main())
