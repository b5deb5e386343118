"""Generate the gRPC and protobuf modules (and their mypy stubs) from the
``.proto`` files in ``api/v1/``.

The protos are compiled under the virtual path ``optsched/api/v1/`` (protoc's
``--proto_path=VIRTUAL=DISK``), so the generated modules import each other as
``from optsched.api.v1 import types_pb2``: exactly where they are installed
(``api/`` is the package ``optsched.api``), with no rewriting, in the strict
editable install and in a wheel alike. The proto package stays ``optsched.v1``.

Run ``make protos`` (``python -P -m optsched.api.codegen``) after editing a
proto; ``tests/api/test_codegen.py`` fails when the committed output is stale.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from importlib import resources
from pathlib import Path

VIRTUAL_DIR = "optsched/api/v1"
PROTO_DIR = Path(__file__).resolve().parent / "v1"
GENERATED_SUFFIXES = ("_pb2.py", "_pb2.pyi", "_pb2_grpc.py", "_pb2_grpc.pyi")


def proto_files(proto_dir: Path = PROTO_DIR) -> list[str]:
    return sorted(p.name for p in proto_dir.glob("*.proto"))


def _plugin(name: str) -> str:
    exe = Path(sys.executable).parent / name
    found = str(exe) if exe.exists() else shutil.which(name)
    if not found:
        raise RuntimeError(f"{name} not found; install the dev extras (mypy-protobuf)")
    return found


def generate(out_dir: Path, proto_dir: Path = PROTO_DIR) -> list[Path]:
    """Compile every proto of ``proto_dir`` into ``out_dir`` (flat: the
    ``*_pb2*.py[i]`` files of the ``optsched.api.v1`` package)."""
    from grpc_tools import protoc

    well_known = str(resources.files("grpc_tools") / "_proto")
    with tempfile.TemporaryDirectory() as tmp:
        args = [
            "protoc",
            f"--proto_path={VIRTUAL_DIR}={proto_dir}",
            f"--proto_path={well_known}",
            f"--plugin=protoc-gen-mypy={_plugin('protoc-gen-mypy')}",
            f"--plugin=protoc-gen-mypy_grpc={_plugin('protoc-gen-mypy_grpc')}",
            f"--python_out={tmp}",
            f"--grpc_python_out={tmp}",
            f"--mypy_out={tmp}",
            f"--mypy_grpc_out={tmp}",
            *(f"{VIRTUAL_DIR}/{name}" for name in proto_files(proto_dir)),
        ]
        if protoc.main(args) != 0:
            raise RuntimeError("protoc failed: " + " ".join(args))
        out_dir.mkdir(parents=True, exist_ok=True)
        written = []
        for src in sorted((Path(tmp) / VIRTUAL_DIR).iterdir()):
            if src.name.endswith(GENERATED_SUFFIXES):
                dst = out_dir / src.name
                shutil.copyfile(src, dst)
                written.append(dst)
        return written


def main() -> int:
    for path in generate(PROTO_DIR):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
