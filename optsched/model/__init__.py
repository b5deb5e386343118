"""The domain model: resources, nodes, items, snapshots and their compiled view."""

from optsched.model.cluster import Assignment, Gpu, Item, MigInstance, Node, NumaNode, Snapshot
from optsched.model.compiled import CompiledCluster, compile_snapshot
from optsched.model.labels import (
    CLUSTER_KEY,
    HOSTNAME_KEY,
    RACK_KEY,
    ZONE_KEY,
    AffinityTerm,
    LabelSelector,
    SelectorRequirement,
    Taint,
    Toleration,
)
from optsched.model.resources import (
    CPU_CORES,
    CPU_MILLIS,
    GPU_COUNT,
    MEMORY_MB,
    MEMORY_MIB,
    PODS,
    Resources,
)

__all__ = [
    "CLUSTER_KEY",
    "CPU_CORES",
    "CPU_MILLIS",
    "GPU_COUNT",
    "HOSTNAME_KEY",
    "MEMORY_MB",
    "MEMORY_MIB",
    "PODS",
    "RACK_KEY",
    "ZONE_KEY",
    "AffinityTerm",
    "Assignment",
    "CompiledCluster",
    "Gpu",
    "Item",
    "LabelSelector",
    "MigInstance",
    "Node",
    "NumaNode",
    "Resources",
    "SelectorRequirement",
    "Snapshot",
    "Taint",
    "Toleration",
    "compile_snapshot",
]
