"""The one place cowfast's version is written: the package metadata (pyproject.toml reads it
from here), cowfast.__version__ and `cowfast --version` all come from this line."""
__version__ = "0.1.0"
