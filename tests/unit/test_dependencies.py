"""The layer declares what the deployed code imports, and the dev venv tests the locked versions."""

from __future__ import annotations

import ast
import re
import sys
from importlib import metadata
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
LAYER_LOCK = REPO / "shared" / "requirements.txt"
RUNTIME_LOCK = REPO / "requirements" / "lambda-runtime.txt"
_PIN = re.compile(r"^([A-Za-z0-9_.-]+)==([^\s;\\]+)", re.M)


def pins(lock: Path) -> dict[str, str]:
    return {metadata_name(name): version for name, version in _PIN.findall(lock.read_text())}


def metadata_name(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def provided_modules(distributions: dict[str, str]) -> set[str]:
    """Top-level import names of the given distributions (read from their installed metadata)."""
    modules: set[str] = set()
    for name in distributions:
        dist = metadata.distribution(name)
        top = dist.read_text("top_level.txt")
        if top:
            modules.update(line.strip() for line in top.splitlines() if line.strip())
        for file in dist.files or []:
            first = file.parts[0]
            if first.endswith((".dist-info", ".data")) or first == "..":
                continue
            modules.add(first.removesuffix(".py"))
    return modules


def deployed_imports() -> dict[str, set[str]]:
    """Third-party top-level modules imported by the code Lambda runs (shared/ and functions/) -> files."""
    found: dict[str, set[str]] = {}
    for path in [*(REPO / "shared").rglob("*.py"), *(REPO / "functions").rglob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for name in names:
                top = name.split(".")[0]
                if top in sys.stdlib_module_names or top in ("mangaassist", "__future__"):
                    continue
                found.setdefault(top, set()).add(str(path.relative_to(REPO)))
    return found


def test_every_deployed_import_is_in_the_layer_lock_or_the_runtime() -> None:
    provided = provided_modules(pins(LAYER_LOCK)) | provided_modules(pins(RUNTIME_LOCK))
    missing = {module: sorted(files) for module, files in deployed_imports().items() if module not in provided}
    assert not missing, f"imported by Lambda code but not in shared/requirements.txt (nor the runtime): {missing}"


def test_the_layer_does_not_ship_the_runtime_sdk() -> None:
    assert not {"boto3", "botocore"} & set(pins(LAYER_LOCK)), "boto3/botocore come from the Lambda runtime"


def test_the_lock_is_hashed() -> None:
    for lock in (LAYER_LOCK, RUNTIME_LOCK):
        entries = re.split(r"\n(?=[A-Za-z0-9])", lock.read_text().split("\n", 2)[-1])
        for entry in entries:
            if _PIN.match(entry):
                assert "--hash=sha256:" in entry, f"{lock.name}: {entry.splitlines()[0]} has no hash"


@pytest.mark.parametrize("lock", [LAYER_LOCK, RUNTIME_LOCK], ids=["layer", "lambda-runtime"])
def test_dev_venv_runs_the_locked_versions(lock: Path) -> None:
    wrong = {}
    for name, version in pins(lock).items():
        installed = metadata.version(name)
        if installed != version:
            wrong[name] = f"locked {version}, installed {installed}"
    assert not wrong, f"the dev venv does not test what is deployed (run scripts/setup.sh): {wrong}"


def test_offline_code_is_not_in_the_layer() -> None:
    imports = deployed_imports()
    for module in ("mangaassist_offline", "mangaassist_local"):
        assert module not in imports, f"{module} must not be imported by Lambda code: {sorted(imports[module])}"
    assert not list((REPO / "shared").rglob("eval")), "evaluation sets belong to offline/, not the layer"
    # The regression suite's golden set is the one data set allowed in the layer: no model learns or is tuned
    # from it (it is the specification of answers the store promises, like policies.json), and the
    # regression-run job reads it in Lambda. Labelled training/eval data stays in offline/.
    data_sets = {p.relative_to(REPO).as_posix() for p in (REPO / "shared").rglob("*.jsonl")}
    assert data_sets <= {"shared/mangaassist/quality/golden.jsonl"}, f"data sets in the layer: {sorted(data_sets)}"
