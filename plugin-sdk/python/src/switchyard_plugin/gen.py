"""Generates the Python gRPC stubs from Switchyard's own ``.proto`` files.

The generated code is never committed: it is produced into ``switchyard_plugin/_generated/`` by
``python -m switchyard_plugin gen`` (which ``scripts/setup.sh`` runs), or on first import of the
SDK when it is missing. ``grpcio-tools`` bundles ``protoc`` and the well-known types, so no
system ``protoc`` is needed.

protoc writes absolute imports (``from switchyard.plugin.v1 import plugin_pb2``); they are
rewritten to point inside this package so that the generated modules never claim the top-level
names ``switchyard`` or ``plugin``.
"""

from __future__ import annotations

import argparse
import importlib.resources
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path

#: The protos the SDK serves, relative to the proto root (the repository's ``proto/``).
PROTO_FILES = (
    "switchyard/plugin/v1/plugin.proto",
    "plugin/grpc_controller.proto",
    "plugin/grpc_stdio.proto",
)

#: Where the generated modules live.
GENERATED_DIR = Path(__file__).resolve().parent / "_generated"

#: Environment variable that overrides where the ``.proto`` files are looked up.
PROTO_DIR_ENV = "SWITCHYARD_PROTO_DIR"

_PACKAGE = "switchyard_plugin._generated"
_IMPORT_RE = re.compile(r"^from (switchyard\.plugin\.v1|plugin) import ", re.MULTILINE)


class GenerationError(RuntimeError):
    """The stubs could not be generated (protos not found, or protoc failed)."""


def find_proto_root() -> Path:
    """Returns the directory holding ``switchyard/plugin/v1/plugin.proto``.

    ``$SWITCHYARD_PROTO_DIR`` wins; otherwise the parents of this file are searched for the
    repository's ``proto/`` directory (the SDK lives at ``plugin-sdk/python/src/...``).
    """
    override = os.environ.get(PROTO_DIR_ENV)
    candidates = [Path(override)] if override else [p / "proto" for p in Path(__file__).resolve().parents]
    for candidate in candidates:
        if (candidate / PROTO_FILES[0]).is_file():
            return candidate
    raise GenerationError(
        f"cannot find {PROTO_FILES[0]}: set {PROTO_DIR_ENV} to the Switchyard repository's proto/ directory"
    )


def _run_protoc(proto_root: Path, out_dir: Path) -> None:
    from grpc_tools import protoc  # imported late: only needed when generating

    well_known = importlib.resources.files("grpc_tools") / "_proto"
    args = [
        "grpc_tools.protoc",
        f"-I{proto_root}",
        f"-I{well_known}",
        f"--python_out={out_dir}",
        f"--pyi_out={out_dir}",
        f"--grpc_python_out={out_dir}",
        *PROTO_FILES,
    ]
    if protoc.main(args) != 0:
        raise GenerationError(f"protoc failed on {', '.join(PROTO_FILES)} under {proto_root}")


def _make_package(out_dir: Path) -> None:
    """Adds ``__init__.py`` files and rewrites imports so the tree is a sub-package."""
    for directory in [out_dir, *[p for p in out_dir.rglob("*") if p.is_dir()]]:
        (directory / "__init__.py").touch()
    for module in out_dir.rglob("*.py"):
        text = module.read_text(encoding="utf-8")
        fixed = _IMPORT_RE.sub(lambda m: f"from {_PACKAGE}.{m.group(1)} import ", text)
        if fixed != text:
            module.write_text(fixed, encoding="utf-8")


def generate(proto_root: Path | None = None, force: bool = False) -> Path:
    """Generates the stubs into :data:`GENERATED_DIR` and returns it.

    Safe when several processes race: each builds in its own temporary directory and renames it
    into place; the loser discards its copy.
    """
    if GENERATED_DIR.is_dir() and not force:
        return GENERATED_DIR
    root = proto_root or find_proto_root()
    tmp = Path(tempfile.mkdtemp(prefix="_generated.tmp-", dir=GENERATED_DIR.parent))
    try:
        _run_protoc(root, tmp)
        _make_package(tmp)
        if force and GENERATED_DIR.is_dir():
            shutil.rmtree(GENERATED_DIR)
        try:
            tmp.rename(GENERATED_DIR)
        except OSError:
            if not GENERATED_DIR.is_dir():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return GENERATED_DIR


def main(argv: list[str] | None = None) -> int:
    """Command line: ``python -m switchyard_plugin gen [--proto-dir DIR] [--force]``."""
    parser = argparse.ArgumentParser(prog="python -m switchyard_plugin gen", description=__doc__.splitlines()[0])
    parser.add_argument("--proto-dir", type=Path, help="the repository's proto/ directory")
    parser.add_argument("--force", action="store_true", help="regenerate even if stubs exist")
    args = parser.parse_args(argv)
    try:
        out = generate(args.proto_dir, force=args.force)
    except GenerationError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(f"generated stubs in {out}", file=sys.stderr)
    return 0
