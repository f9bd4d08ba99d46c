"""The `sam build` output, made runnable on this machine.

`sam build` builds the layer for the template's architecture (arm64): its binary wheels (numpy,
pydantic_core) cannot be imported on an x86_64 laptop. So the layer is built a second time for the host:
the same files that `sam build` copied from shared/ (taken from the built layer itself), and the same
hash-locked requirements (shared/requirements.txt) installed as binary wheels for this machine. The two
layers must then hold the same distributions at the same versions, or the host build is refused. The
Lambda runtime's boto3/botocore (requirements/lambda-runtime.txt) go beside them, as /var/runtime.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

from mangaassist_local.process_runtime import BuildLayout

REPO = Path(__file__).resolve().parents[2]
LAYER = "MangaAssistLayer"
LAYER_LOCK = REPO / "shared" / "requirements.txt"
RUNTIME_LOCK = REPO / "requirements" / "lambda-runtime.txt"
DEFAULT_BUILD_DIR = REPO / ".aws-sam" / "build"


class BuildError(RuntimeError):
    """No usable `sam build` output, or the host layer could not be built to match it."""


def _distributions(directory: Path) -> set[str]:
    return {entry.name.removesuffix(".dist-info") for entry in directory.glob("*.dist-info")}


def _own_files(built_layer: Path) -> list[Path]:
    """The entries `sam build` copied from the layer's ContentUri (shared/), as opposed to installed packages."""
    sources = {entry.name for entry in (REPO / "shared").iterdir() if entry.name != "__pycache__"}
    return sorted(entry for entry in built_layer.iterdir() if entry.name in sources)


def _fingerprint(built_layer: Path) -> str:
    digest = hashlib.sha256()
    for lock in (LAYER_LOCK, RUNTIME_LOCK):
        digest.update(lock.read_bytes())
    for root in _own_files(built_layer):
        for path in sorted([root] if root.is_file() else root.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                digest.update(str(path.relative_to(built_layer)).encode())
                digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _pip_install(lock: Path, target: Path) -> None:
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--require-hashes",
               "--no-deps", "--only-binary=:all:", "--no-compile", "--target", str(target), "-r", str(lock)]
    result = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603 - fixed argv
    if result.returncode != 0:
        raise BuildError(f"pip could not install {lock.relative_to(REPO)} for this machine:\n{result.stderr[-2000:]}")


def host_build(build_dir: Path = DEFAULT_BUILD_DIR, log: bool = True) -> BuildLayout:
    """The layout to run `build_dir` here: builds the host layer and runtime beside it when they are missing
    or stale (the locks or the built layer changed), and checks they match the built layer."""
    build_dir = build_dir.resolve()
    built_layer = build_dir / LAYER / "python"
    if not (build_dir / "template.yaml").is_file() or not built_layer.is_dir():
        raise BuildError(f"no `sam build` output in {build_dir}: run `make build` first")
    host = build_dir.parent / "host"
    layout = BuildLayout(build_dir=build_dir, layer_dir=host / "layer", runtime_dir=host / "runtime")
    stamp = host / "fingerprint"
    fingerprint = _fingerprint(built_layer)
    if stamp.is_file() and stamp.read_text() == fingerprint:
        return layout
    if log:
        print(f"building the layer for this machine in {host} (same files, same lock)", file=sys.stderr)
    shutil.rmtree(host, ignore_errors=True)
    layer_python = layout.layer_dir / "python"
    layer_python.mkdir(parents=True)
    for entry in _own_files(built_layer):
        if entry.is_dir():
            shutil.copytree(entry, layer_python / entry.name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(entry, layer_python / entry.name)
    _pip_install(LAYER_LOCK, layer_python)
    _pip_install(RUNTIME_LOCK, layout.runtime_dir)
    built, here = _distributions(built_layer), _distributions(layer_python)
    if built != here:
        raise BuildError(f"the host layer differs from the built one: only built {sorted(built - here)}, "
                         f"only here {sorted(here - built)} (run `make build` again after changing the lock)")
    stamp.write_text(fingerprint)
    return layout
