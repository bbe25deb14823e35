"""`python -m cowfast ...` is the `cowfast` console script."""
import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
