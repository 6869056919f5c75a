"""Build hook: an editable install (``pip install -e .``) that keeps the wheel's import names.

The wheel ships ``plugins/`` as ``automl_plugins`` and ``cli.py`` as ``automl_cli`` (see pyproject.toml), and
hatchling would copy such renamed files into an editable install, so a change to them would need a reinstall.
For editable builds this hook maps the two names onto the working tree instead, with the same import hook
hatchling uses for ``automl`` itself (the ``editables`` package): every name resolves to the repository's files
and nothing else of the repository (no top-level ``plugins`` or ``cli``) becomes importable.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

#: Import name -> path in the repository, as the wheel's ``force-include`` renames them.
RENAMED = {"automl_plugins": "plugins", "automl_cli": "cli.py"}


class EditableLayoutHook(BuildHookInterface):
    """Maps the renamed modules onto the working tree in editable wheels; does nothing for other builds."""

    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        """Put a ``.pth`` and its import hook into an editable wheel instead of copies of the renamed files."""
        if self.target_name != "wheel" or version != "editable":
            return
        from editables import EditableProject

        project = EditableProject("automl-layout", self.root)
        for name, path in RENAMED.items():
            project.map(name, path)
        self._tmp = Path(tempfile.mkdtemp(prefix="automl-editable-"))
        files = {}
        for name, content in project.files():
            (self._tmp / name).write_text(content)
            files[str(self._tmp / name)] = name
        build_data["force_include_editable"] = files

    def finalize(self, version: str, build_data: dict[str, Any], artifact_path: str) -> None:
        """Remove the generated files once the wheel is written."""
        tmp = getattr(self, "_tmp", None)
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
