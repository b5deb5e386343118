"""Problem types, one per kind of question (DESIGN.md, "Problems").

Cluster problems (pods, VMs, rescheduling) are defined in
:mod:`optsched.problems.cluster`; GPU partitioning and frequency control in
:mod:`optsched.problems.gpu`; backend sizing in :mod:`optsched.problems.sizing`.
"""

from optsched.problems.base import Problem, ProblemKind
from optsched.problems.cluster import PodPlacement, VmPlacement, VmRescheduling

__all__ = ["PodPlacement", "Problem", "ProblemKind", "VmPlacement", "VmRescheduling"]
