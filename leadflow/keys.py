"""API keys and their roles: from LEADFLOW_API_KEYS, or generated once and kept in LEADFLOW_HOME."""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

from leadflow.errors import LeadflowError

ROLES = ("admin", "sales", "ingest")


class KeyConfigError(LeadflowError, ValueError):
    """LEADFLOW_API_KEYS cannot be read."""


def parse_api_keys(text: str) -> dict[str, str]:
    """Parse `KEY:ROLE,KEY:ROLE` into a key → role map."""
    keys: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        key, _, role = item.rpartition(":")
        if not key or role not in ROLES:
            raise KeyConfigError(
                f"LEADFLOW_API_KEYS entry {item[:6]}… must be KEY:ROLE with ROLE one of {ROLES}"
            )
        if len(key) < 16:
            raise KeyConfigError("every key in LEADFLOW_API_KEYS needs at least 16 characters")
        keys[key] = role
    if not keys:
        raise KeyConfigError("LEADFLOW_API_KEYS is set but holds no KEY:ROLE pair")
    return keys


def local_api_keys(home: Path) -> dict[str, str]:
    """Keys kept in `home/api_keys.json` (mode 0600), one per role, created on first use."""
    path = home / "api_keys.json"
    if path.exists():
        return {key: role for key, role in json.loads(path.read_text()).items()}
    home.mkdir(parents=True, exist_ok=True)
    keys = {f"lf_{role}_{secrets.token_urlsafe(24)}": role for role in ROLES}
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        json.dump(keys, handle, indent=2)
    return keys


def key_for_role(keys: dict[str, str], role: str) -> str | None:
    """One key with the given role, if any."""
    return next((key for key, r in keys.items() if r == role), None)
