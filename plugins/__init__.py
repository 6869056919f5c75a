"""automl's built-in plugins.

They register through the same entry-point groups (``automl.models``, ``automl.optimizers``,
``automl.regularizers``) a third-party package uses; see ``pyproject.toml``. Installed, this package is named
``automl_plugins``.
"""
