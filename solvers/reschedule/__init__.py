"""VM rescheduling (:class:`optsched.problems.cluster.VmRescheduling`).

* :mod:`.state`: the incremental cluster state (feasibility rules, fragment
  reward) shared by every solver here and by the learned environment;
* :mod:`.affinity`: anti-affinity groups as arrays;
"""
