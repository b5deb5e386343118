"""gRPC method handlers: thin adapters from wire bytes to the services.

Requests arrive as raw bytes and are parsed here, so a malformed message
becomes INVALID_ARGUMENT (through :class:`~optsched.api.interceptors.ErrorInterceptor`)
rather than the INTERNAL that a failing deserializer would give. Solve RPCs
are found from the service descriptors: each method whose request type is a
kind in :data:`~optsched.api.convert_problems.KINDS` solves that kind.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

import grpc
from google.protobuf.message import DecodeError, Message

from optsched.api.convert_problems import KINDS, SOLVE_FILES, Kind
from optsched.api.jobs.service import JOBS_SERVICE
from optsched.api.solving import SolveService
from optsched.api.v1 import jobs_pb2
from optsched.errors import DomainError

Handler = Callable[[Any, grpc.aio.ServicerContext], Awaitable[Message]]


class JobHandlers(Protocol):
    """The Jobs RPCs by method name: the job service itself, or in a replica
    process the forwarder to the primary."""

    def handlers(self) -> Mapping[str, Handler]: ...


def _serialize(message: Message) -> bytes:
    return message.SerializeToString()


def unary(request_type: type[Message], fn: Handler) -> grpc.RpcMethodHandler:
    name = request_type.DESCRIPTOR.full_name

    async def handle(raw: bytes, context: grpc.aio.ServicerContext) -> Message:
        try:
            request = request_type.FromString(raw)
        except DecodeError:
            raise DomainError("request", f"is not a valid {name} message") from None
        return await fn(request, context)

    return grpc.unary_unary_rpc_method_handler(handle, response_serializer=_serialize)


def _solve(solving: SolveService, kind: Kind) -> Handler:
    async def call(request: Any, context: grpc.aio.ServicerContext) -> Message:
        return await solving.solve(kind, request, context.time_remaining())  # type: ignore[no-any-return]

    return call


def service_names() -> list[str]:
    return [s.full_name for f in SOLVE_FILES for s in f.services_by_name.values()] + [
        JOBS_SERVICE.full_name
    ]


def generic_handlers(solving: SolveService, jobs: JobHandlers) -> list[grpc.GenericRpcHandler]:
    by_request = {k.request.DESCRIPTOR.full_name: k for k in KINDS.values()}
    out = []
    for file in SOLVE_FILES:
        for service in file.services_by_name.values():
            methods = {}
            for m in service.methods:
                kind = by_request[m.input_type.full_name]
                methods[m.name] = unary(kind.request, _solve(solving, kind))
            out.append(grpc.method_handlers_generic_handler(service.full_name, methods))
    job_fns = jobs.handlers()
    job_methods = {}
    for m in JOBS_SERVICE.methods:
        request_type = getattr(jobs_pb2, m.input_type.name)
        job_methods[m.name] = unary(request_type, job_fns[m.name])
    out.append(grpc.method_handlers_generic_handler(JOBS_SERVICE.full_name, job_methods))
    return out
