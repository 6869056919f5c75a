"""Serving a study storage in optuna-dashboard, on the loopback interface unless asked otherwise."""

from __future__ import annotations

import importlib.util

from automl.exceptions import ConfigError

__all__ = ["DEFAULT_HOST", "serve"]

#: Where the dashboard listens by default: this machine only. Study databases hold parameters, scores and
#: failure messages; exposing them on every interface is the user's explicit choice (``host="0.0.0.0"``).
DEFAULT_HOST = "127.0.0.1"


def serve(storage: str | None = None, host: str = DEFAULT_HOST, port: int = 8080) -> None:
    """Serve ``storage`` (default: ``$AUTOML_STORAGE`` or ``studies/automl.db``) in optuna-dashboard at
    ``http://host:port`` until interrupted. The storage must exist; it is opened without heartbeats."""
    if importlib.util.find_spec("optuna_dashboard") is None:
        raise ConfigError("the dashboard needs optuna-dashboard: pip install 'automl[dashboard]'")
    if not 0 < port < 65536:
        raise ConfigError(f"port must be 1..65535, got {port}")
    import optuna_dashboard

    from automl.storage import open_storage

    optuna_dashboard.run_server(open_storage(storage, heartbeat=False, create=False), host=host, port=port)
