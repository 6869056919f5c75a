"""``python -m automl``: the same command line as ``automl``."""

from automl_cli import main

if __name__ == "__main__":
    main()
