"""Each Space folder builds the way the Hugging Face Spaces builder builds it: its README's configuration,
its requirements resolved by pip from the Space's own files (no CUDA wheels), and exactly the packages its
code imports."""

from __future__ import annotations

import ast
import importlib.metadata
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import REPO_ROOT
from plugins.spaces import GRADIO_EXTRAS, PYTHON_VERSION, SHORT_DESCRIPTION_LIMIT, SPACE_REQUIREMENTS, TORCH_CPU_INDEX

SPACES = sorted(path.parent for path in (REPO_ROOT / "spaces").glob("*/app.py"))
CUDA_WHEELS = ("nvidia-", "triton", "cuda-", "pytorch-triton")


def front_matter(space: Path) -> dict:
    text = (space / "README.md").read_text()
    assert text.startswith("---\n"), f"{space.name}: README.md must open with the Space's YAML configuration"
    return yaml.safe_load(text.split("---", 2)[1])


@pytest.mark.parametrize("space", SPACES, ids=lambda path: path.name)
def test_space_configuration_names_what_the_builder_needs(space):
    config = front_matter(space)
    gradio_pin = next(line for line in (REPO_ROOT / "requirements.txt").read_text().splitlines()
                      if line.startswith("gradio=="))
    assert config["sdk"] == "gradio" and config["sdk_version"] == gradio_pin.split("==")[1]
    # Without python_version the builder uses 3.10, where neither numpy 2.4 nor transformers 5 installs.
    assert str(config["python_version"]) == PYTHON_VERSION == f"{sys.version_info.major}.{sys.version_info.minor}"
    assert config["app_file"] == "app.py" and (space / config["app_file"]).is_file()
    assert 0 < len(config["short_description"]) <= SHORT_DESCRIPTION_LIMIT
    assert config["models"] and all(model.count("/") == 1 for model in config["models"])
    requirements = (space / "requirements.txt").read_text().splitlines()
    assert requirements[0] == f"--extra-index-url {TORCH_CPU_INDEX}"
    assert any(line.startswith("torch==") and line.endswith("+cpu") for line in requirements), \
        "a plain torch pin resolves to PyPI's CUDA build on Linux"
    assert not any(line.startswith("gradio") for line in requirements), "Gradio comes from sdk_version"


def test_space_requirements_resolve_without_cuda_wheels(tmp_path):
    """pip resolves each distinct requirements file as the builder would (fresh, nothing installed), from
    the indexes this machine reaches, and the set holds PyTorch's CPU build and no CUDA wheel."""
    distinct = {(space / "requirements.txt").read_text(): space.name for space in SPACES}
    for text, name in distinct.items():
        report = tmp_path / f"{name}.json"
        # --retries 0: PyTorch's CPU index may be unreachable here; a local wheel folder with the same
        # "+cpu" build stands in for it, and pip must not back off for seconds per package.
        result = subprocess.run(
            [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet", "--retries", "0",
             "--timeout", "5", "--report", str(report), "-r", str(REPO_ROOT / "spaces" / name / "requirements.txt")],
            capture_output=True, text=True, timeout=300)
        if result.returncode != 0 and "No matching distribution" in result.stderr and "torch" in result.stderr:
            pytest.skip("no index reachable from here holds torch's +cpu build (PyTorch's CPU index or a local wheel)")
        assert result.returncode == 0, result.stderr[-2000:]
        resolved = {item["metadata"]["name"].lower(): item["metadata"]["version"]
                    for item in json.loads(report.read_text())["install"]}
        assert resolved["torch"].endswith("+cpu")
        assert not [package for package in resolved if package.startswith(CUDA_WHEELS)], resolved


def _optional(node: ast.Try) -> bool:
    """An import inside `try: ... except ImportError` is optional: the code says what to install instead."""
    names = set()
    for handler in node.handlers:
        kinds = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
        names |= {kind.id for kind in kinds if isinstance(kind, ast.Name)}
    return bool(names & {"ImportError", "ModuleNotFoundError"})


def imported_top_level_modules(folders: list[Path]) -> set[str]:
    """Top-level modules imported anywhere in the code a Space ships (plugin tests and the template are not
    shipped), including imports inside functions: a Space must be able to run every path but the optional."""
    modules = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.Try) and _optional(node):
            for child in node.handlers + node.orelse + node.finalbody:
                visit(child)
            return
        if isinstance(node, ast.Import):
            modules.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules.add(node.module.split(".")[0])
        for child in ast.iter_child_nodes(node):
            visit(child)

    for folder in folders:
        for path in folder.rglob("*.py"):
            if not path.name.startswith("test_") and "_template" not in path.parts:
                visit(ast.parse(path.read_text(), filename=str(path)))
    return modules


def installed_with(distribution: str) -> set[str]:
    """A distribution and, transitively, what it requires (extras left out), as installed here."""
    seen, todo = set(), [distribution]
    while todo:
        name = todo.pop().lower().replace("_", "-")
        if name in seen:
            continue
        seen.add(name)
        try:
            requirements = importlib.metadata.requires(name) or []
        except importlib.metadata.PackageNotFoundError:
            continue
        todo += [re.split(r"[ ;<>=!~\[(]", line, maxsplit=1)[0] for line in requirements if "extra ==" not in line]
    return seen


def test_space_requirements_are_exactly_what_its_code_imports():
    modules = imported_top_level_modules([REPO_ROOT / "plugins", REPO_ROOT / "models"])
    third_party = {module for module in modules
                   if module not in sys.stdlib_module_names and module not in ("plugins", "models", "__future__")}
    providers = importlib.metadata.packages_distributions()
    needed = set()
    for module in third_party:
        assert module in providers, f"{module} is imported by the Space's code but no installed package provides it"
        needed |= {name.lower().replace("_", "-") for name in providers[module]}
    listed = {name.lower() for name in SPACE_REQUIREMENTS}
    with_gradio = installed_with("gradio")  # the Space's sdk_version installs Gradio and what it depends on
    assert needed - listed - with_gradio == set(), "imported by the Space's code but missing from its requirements"
    assert listed - needed - set(GRADIO_EXTRAS) == set(), "in the Space's requirements but imported by none of its code"
