"""The Ray cluster a search runs on: an existing one (``address``), or a local one started for the search.

A local cluster belongs to its search: it is started with Ray's token authentication (a random token kept in the
environment of its processes, never written to ``~/.ray``; Ray's daemons listen on the machine's interfaces, so
nobody without the token may talk to them), in a temporary folder of its own (not ``/tmp/ray``), and with a
reaper (:mod:`automl.backends._ray_reaper`) that kills whatever of it is left when the search ends, even by
``kill -9``. Joining an existing cluster changes nothing of it: the search only connects its driver.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

from automl.envvars import environ
from automl.exceptions import ConfigError

__all__ = ["MARKER_VAR", "QUIET_ENV", "connect", "import_ray"]

#: Environment variable carried by every process of a local cluster (see :mod:`automl.backends._ray_reaper`).
MARKER_VAR = "AUTOML_RAY_SESSION"
#: Ray and Tune settings of every search: no token-auth banner (the mode is set explicitly), no SIGINT handler of
#: Tune's own (automl's stop flag ends the run, see :mod:`automl.interrupt`), no result files (the study is the
#: record), no progress tables.
QUIET_ENV = {
    "TUNE_DISABLE_SIGINT_HANDLER": "1",
    "TUNE_DISABLE_AUTO_CALLBACK_LOGGERS": "1",
    "RAY_AIR_NEW_OUTPUT": "0",
    "RAY_DEDUP_LOGS": "0",
}
_REAPER = Path(__file__).with_name("_ray_reaper.py")
_AUTH_LOGGER = "ray._private.authentication.authentication_token_setup"


def import_ray() -> None:
    """Import Ray Tune, or fail with the install hint."""
    try:
        import ray  # noqa: F401
        from ray import tune  # noqa: F401
    except ImportError as exc:
        raise ConfigError(f"the ray backend needs Ray Tune: pip install 'automl[ray]' ({exc})") from exc


@contextlib.contextmanager
def _auth() -> Iterator[None]:
    """Around a ``ray.init``: make Ray read the auth token from the environment afresh (its driver side caches the
    first one it saw, which would not match a later cluster's); keep its token-authentication banner ("Token
    authentication is enabled/disabled for this Ray cluster", at every ``ray.init``) off the user's terminal; put
    back the auth mode variable Ray sets for itself."""
    from ray._raylet import AuthenticationTokenLoader

    AuthenticationTokenLoader.instance().reset_cache()
    logger = logging.getLogger(_AUTH_LOGGER)
    level = logger.level
    logger.setLevel(logging.ERROR)
    with environ({}, restore=("RAY_AUTH_MODE",)):
        try:
            yield
        finally:
            logger.setLevel(level)


@contextlib.contextmanager
def _local_cluster() -> Iterator[None]:
    """Start a local Ray cluster owned by this search (see the module docstring); shut it down on leaving."""
    import ray

    folder = tempfile.mkdtemp(prefix="automl-ray-")  # short: Ray's socket paths must fit in 107 bytes
    marker = uuid.uuid4().hex
    reaper = subprocess.Popen([sys.executable, str(_REAPER), marker, folder], stdin=subprocess.PIPE,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    # Ray turns token authentication on for a new local cluster unless RAY_AUTH_MODE says otherwise; with a
    # token in the environment it writes none to ~/.ray, and its processes inherit it
    token = {} if os.environ.get("RAY_AUTH_MODE") or os.environ.get("RAY_AUTH_TOKEN") else {
        "RAY_AUTH_TOKEN": secrets.token_hex(32)}
    try:
        with environ(token), _auth():
            with environ({MARKER_VAR: marker}):  # only the processes ray.init starts inherit the marker
                ray.init(_temp_dir=folder, include_dashboard=False, log_to_driver=False,
                         logging_level=logging.WARNING)
            try:
                yield
            finally:
                ray.shutdown()
    finally:
        assert reaper.stdin is not None
        reaper.stdin.close()  # EOF: the reaper kills what Ray left and removes the folder
        reaper.wait()


@contextlib.contextmanager
def connect(address: str | None) -> Iterator[None]:
    """Make this process a Ray driver for the block: on the cluster at ``address``, on the cluster this process
    is already connected to (a notebook's ``ray.init()``), or on a local cluster started for the block."""
    import ray

    with environ(QUIET_ENV):
        if address is None and ray.is_initialized():
            yield
            return
        if address is None:
            with _local_cluster():
                yield
            return
        try:
            with _auth():
                ray.init(address=address, log_to_driver=False, logging_level=logging.WARNING)
        except (ConnectionError, ValueError, RuntimeError) as exc:
            raise ConfigError(f"cannot join the Ray cluster at {address!r}: {str(exc).splitlines()[0]}") from exc
        try:
            yield
        finally:
            ray.shutdown()
