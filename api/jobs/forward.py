"""The Jobs RPCs of a replica process (see :mod:`optsched.api.replicas`):
each call is passed on to the primary process, which owns the job store and
runs the jobs, so that a job submitted through any process is queued,
listed, cancelled and recovered in one place.

The caller's bearer token goes along (the primary checks it again), the
caller's deadline bounds the forwarded call, and the primary's status code
and message come back unchanged.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import grpc
from google.protobuf.message import Message

from optsched.api.jobs.service import JOBS_SERVICE
from optsched.api.v1 import jobs_pb2

PASSED_ON = ("authorization",)


class JobsForwarder:
    def __init__(self, primary: str) -> None:
        self.channel = grpc.aio.insecure_channel(primary)

    def handlers(self) -> dict[str, Callable[[Any, Any], Awaitable[Message]]]:
        return {m.name: self._forward(m.name, m.output_type.name) for m in JOBS_SERVICE.methods}

    def _forward(self, method: str, response: str) -> Callable[[Any, Any], Awaitable[Message]]:
        call = self.channel.unary_unary(
            f"/{JOBS_SERVICE.full_name}/{method}",
            request_serializer=lambda m: m.SerializeToString(),
            response_deserializer=getattr(jobs_pb2, response).FromString,
        )

        async def forward(request: Message, context: grpc.aio.ServicerContext) -> Message:
            metadata = [(k, v) for k, v in context.invocation_metadata() or () if k in PASSED_ON]
            try:
                return await call(request, timeout=context.time_remaining(), metadata=metadata)  # type: ignore[no-any-return]
            except grpc.aio.AioRpcError as exc:
                await context.abort(exc.code(), exc.details() or "")
                raise  # abort raises; this line is never reached

        return forward

    async def close(self) -> None:
        await self.channel.close(None)
