"""VM rescheduling (:class:`optsched.problems.cluster.VmRescheduling`).

Public API (stable):

* :mod:`.state`: ``RescheduleState.from_problem(problem)`` — the incremental
  cluster state shared by every solver here and by the learned environment:
  ``target_mask(vm) -> [H, P]``, ``host_mask(vm) -> [H]``, ``can_move``,
  ``best_placement(vm, host)``, ``move(vm, host, numa) -> reward`` (FR before
  less FR after), ``fragment_rate()``, ``plan()``, ``copy()``; arrays
  ``numa_free [H, K, R]``, ``host_free``, ``vm_req``, ``vm_host``,
  ``vm_place``, ``vm_movable``, ``vm_split``, ``vm_cluster``, ``host_dest``;
* :mod:`.greedy`: ``greedy(state, max_moves, deadline)`` and
  ``best_move(state, shapes(state))``; solver ``greedy-reschedule``;
* :mod:`.pairs`: ``improve(state, max_moves, deadline)`` (greedy moves, then
  pairs of moves where no single one helps) and ``best_pair(state)``: the
  starting plan of the searching solvers (:mod:`.start`);
* :mod:`.exact`: solver ``cpsat-reschedule`` (``CpsatArgs``), built from
  :mod:`.classes` (aggregation, ``disaggregate``), :mod:`.cpsat_model` (the
  formulation) and :mod:`.sequencing` (``sequence(state, moves, limit)``);
* :mod:`.lns`: solver ``lns-reschedule`` (``LnsArgs``);
* :mod:`.affinity`: anti-affinity groups as arrays; :mod:`.result`: plans as
  ``SolveResult``.
"""
