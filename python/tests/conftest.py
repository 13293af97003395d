"""Shared set-up: where the repository and the `kexpr` command are."""

import os
import pathlib
import shutil
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def kexpr() -> str:
    """The `kexpr` command to compare with: $KEXPR, else the workspace's build, else PATH."""
    for candidate in [os.environ.get("KEXPR"), ROOT / "target" / "debug" / "kexpr", shutil.which("kexpr")]:
        if candidate and pathlib.Path(candidate).exists():
            return str(candidate)
    subprocess.run(["cargo", "build", "-q", "-p", "kalix-expr-cli"], cwd=ROOT, check=True)
    return str(ROOT / "target" / "debug" / "kexpr")


@pytest.fixture(scope="session")
def root() -> pathlib.Path:
    return ROOT
