"""Request limits the service enforces while converting requests.

Each limit is a named constant with the reason for its value; the server
takes them from its configuration (:class:`Limits`), so an operator can raise
them for bigger clusters.
"""

from __future__ import annotations

from dataclasses import dataclass

# Kubernetes object names are DNS subdomains: at most 253 characters.
MAX_NAME_CHARS = 253
# Label values are at most 63 characters in Kubernetes; keys with a prefix up
# to 253 + 1 + 63. Allow the longer bound for both, so any valid label passes.
MAX_LABEL_CHARS = 317
# 2**40 of any unit (1 TiB of MiB, 10**12 millicores) exceeds any real node by
# orders of magnitude while keeping sums over 10**5 items far inside int64 and
# CP-SAT's coefficient range.
MAX_QUANTITY = 2**40
# Kubernetes PriorityClass values are int32.
MAX_ABS_PRIORITY = 2**31
# The largest production snapshot we serve (VMR2L's large: ~2,000 hosts,
# ~10,000 VMs) with a wide margin.
MAX_NODES = 20_000
MAX_ITEMS = 200_000
# Per object: labels, taints, tolerations, affinity terms, NUMA nodes, GPUs.
MAX_ENTRIES = 256
# Interactive RPCs; batch jobs take longer budgets.
MAX_BUDGET_S = 300.0
MAX_JOB_BUDGET_S = 24 * 3600.0
# gRPC's own default receive limit is 4 MiB; a 200k-item snapshot needs more.
MAX_REQUEST_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class Limits:
    max_nodes: int = MAX_NODES
    max_items: int = MAX_ITEMS
    max_entries: int = MAX_ENTRIES
    max_quantity: int = MAX_QUANTITY
    max_budget_s: float = MAX_BUDGET_S
    max_job_budget_s: float = MAX_JOB_BUDGET_S
    max_request_bytes: int = MAX_REQUEST_BYTES


DEFAULT_LIMITS = Limits()
