"""``python -m experiments.reproduce`` as a user types it, for the tests of its presets."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def reproduce(
    preset: str, out_dir: Path, run_overrides: list[str] | None, *overrides: str
) -> subprocess.CompletedProcess:
    """The preset into ``out_dir``; ``run_overrides`` replaces the preset's (None: keeps it)."""
    replaced = (
        []
        if run_overrides is None
        else ["preset.run_overrides=[" + ",".join(f"'{o}'" for o in run_overrides) + "]"]
    )
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "experiments.reproduce",
            f"preset={preset}",
            f"out_dir={out_dir}",
            *replaced,
            *overrides,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
