"""The credentials file: what `emd connect github|jira` obtained (a GitHub App's id and private key, Jira's
rotating OAuth refresh token), kept out of the warehouse, Dagster's storage and the config.

`EMD_CREDENTIALS_FILE` (default `.emd/credentials.json`) is a JSON object with one section per source. It is
written mode 0600, atomically (a temporary file in the same folder, fsync, then rename), so a crash leaves
either the old file or the new one, never half of one; `locked()` serialises read-modify-write between
processes (two Dagster runs refreshing Jira's token at once would otherwise spend the same refresh token).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from emd import settings
from emd.settings import SettingsError

CREDENTIALS_ENV = "EMD_CREDENTIALS_FILE"
DEFAULT_CREDENTIALS_FILE = ".emd/credentials.json"


def credentials_path() -> Path:
    return Path(settings.env(CREDENTIALS_ENV, DEFAULT_CREDENTIALS_FILE) or DEFAULT_CREDENTIALS_FILE)


def read_credentials(path: Path | None = None) -> dict[str, Any]:
    """The file's sections ({} when it does not exist yet). A file that is not a JSON object names the
    variable and what to do; its content is never quoted (it holds secrets)."""
    path = path or credentials_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise SettingsError(f"cannot read the credentials file {path} ({CREDENTIALS_ENV}): {exc.strerror}") from None
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise SettingsError(f"the credentials file {path} ({CREDENTIALS_ENV}) is not a JSON object: move it away and "
                            "run `emd connect github` / `emd connect jira` again")
    return data


def write_section(section: str, values: dict[str, Any], path: Path | None = None) -> Path:
    """Replace one section (`github_app`, `jira`) of the file, keeping the others; atomic, mode 0600."""
    path = path or credentials_path()
    with locked(path):
        data = read_credentials(path)
        data[section] = values
        write_atomically(path, data)
    return path


def write_atomically(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(data, out, indent=2, sort_keys=True)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    with contextlib.suppress(OSError):  # the rename itself is durable once the folder is synced
        folder = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)


@contextlib.contextmanager
def locked(path: Path | None = None) -> Iterator[None]:
    """An exclusive lock beside the file (`<file>.lock`), held for one read-modify-write."""
    path = path or credentials_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(str(path) + ".lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
