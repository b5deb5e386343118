"""The committed generated modules match the protos: regenerating changes
nothing. When the installed protoc differs from the one that produced the
committed files (another version stamp), the protos' compiled descriptors
are compared instead, so the test still fails on a stale descriptor."""

from __future__ import annotations

import re
from pathlib import Path

from optsched.api import codegen

STAMP = re.compile(r"# Protobuf Python Version: (\S+)")
DESCRIPTOR = re.compile(rb"AddSerializedFile\((b'.*?')\)\n", re.S)


def _descriptor(path: Path) -> bytes:
    match = DESCRIPTOR.search(path.read_bytes())
    assert match, f"no serialized descriptor in {path}"
    return match.group(1)


def test_committed_stubs_are_fresh(tmp_path: Path) -> None:
    fresh = {p.name: p for p in codegen.generate(tmp_path)}
    committed = {
        p.name: p
        for p in codegen.PROTO_DIR.iterdir()
        if p.name.endswith(codegen.GENERATED_SUFFIXES)
    }
    assert sorted(fresh) == sorted(committed), "run `make protos`"
    stamp_new = STAMP.search(next(p for n, p in fresh.items() if n.endswith("_pb2.py")).read_text())
    stamp_old = STAMP.search(
        next(p for n, p in committed.items() if n.endswith("_pb2.py")).read_text()
    )
    same_generator = stamp_new and stamp_old and stamp_new.group(1) == stamp_old.group(1)
    for name, path in fresh.items():
        if same_generator:
            assert path.read_text() == committed[name].read_text(), (
                f"{name} is stale: run `make protos`"
            )
        elif name.endswith("_pb2.py"):
            assert _descriptor(path) == _descriptor(committed[name]), f"{name} is stale"


def test_generated_modules_import_under_the_package() -> None:
    from optsched.api.v1 import jobs_pb2, jobs_pb2_grpc, placement_pb2

    assert jobs_pb2.DESCRIPTOR.package == "optsched.v1"
    assert jobs_pb2.DESCRIPTOR.name == "optsched/api/v1/jobs.proto"
    assert placement_pb2.DESCRIPTOR.services_by_name["Placement"].methods_by_name["PlacePods"]
    assert hasattr(jobs_pb2_grpc, "JobsStub")
