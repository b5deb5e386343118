"""The problem kinds and the protocol every problem type satisfies."""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar, Protocol, runtime_checkable


class ProblemKind(StrEnum):
    POD_PLACEMENT = "pod_placement"
    VM_PLACEMENT = "vm_placement"
    VM_RESCHEDULING = "vm_rescheduling"
    GPU_PARTITION_PLACEMENT = "gpu_partition_placement"
    MODEL_PLACEMENT = "model_placement"  # sensitivity-aware placement of model partitions on GPUs
    BACKEND_SIZING = "backend_sizing"
    FREQUENCY_CONTROL = "frequency_control"


@runtime_checkable
class Problem(Protocol):
    kind: ClassVar[ProblemKind]

    def size(self) -> int:
        """A size measure (items plus nodes, or the kind's equivalent) used by
        latency models and size limits."""
        ...
