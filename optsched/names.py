"""Solver names, in one place (as kube-scheduler's plugins/names)."""

# Placement (pods and VMs)
CPSAT_PLACEMENT = "cpsat-placement"
KUBE_DEFAULT = "kube-default"
FIRST_FIT_DECREASING = "first-fit-decreasing"
BEST_FIT_DECREASING = "best-fit-decreasing"

# VM rescheduling
CPSAT_RESCHEDULE = "cpsat-reschedule"
GREEDY_RESCHEDULE = "greedy-reschedule"
LNS_RESCHEDULE = "lns-reschedule"
GNN_RESCHEDULE = "gnn-reschedule"

# GPU partitions and model placement
CPSAT_MIG = "cpsat-mig"
GREEDY_MIG = "greedy-mig"
SENSITIVITY_GREEDY = "sensitivity-greedy"
CPSAT_SENSITIVITY = "cpsat-sensitivity"

# Sizing and frequency control
SWAYAM = "swayam"
MIAD = "miad"
