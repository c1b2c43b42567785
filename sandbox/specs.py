"""Where the vendor specifications live (`../shared/specs` next to the repository, or an override)."""

from __future__ import annotations

import os
from pathlib import Path

ENV_VAR = "FIREFIGHTER_SPECS_DIR"


class SpecsNotFoundError(FileNotFoundError):
    """The vendor specs folder is missing: the sandboxes cannot check requests without it."""


def specs_dir() -> Path:
    """Return the folder holding the vendor specs.

    `FIREFIGHTER_SPECS_DIR` wins; otherwise `<repo root>/../shared/specs`, where the repository root is
    the parent of the `sandbox` package.
    """
    override = os.environ.get(ENV_VAR)
    path = (
        Path(override)
        if override
        else Path(__file__).resolve().parent.parent / ".." / "shared" / "specs"
    )
    path = path.resolve()
    if not path.is_dir():
        raise SpecsNotFoundError(
            f"vendor specs folder not found at {path}; set {ENV_VAR} to the folder holding "
            "slack_api_ref/, slack_block_kit_schema_tightknit/, jira_platform_v3.json, ..."
        )
    return path
