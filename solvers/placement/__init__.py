"""Pod and VM placement: the CP-SAT model and the baseline heuristics
(kube-default emulation, first-fit-decreasing, best-fit-decreasing).

Shared pieces: :mod:`.filters` (the placement rules as predicates),
:mod:`.state` (a mutable cluster state for the greedy solvers),
:mod:`.score` (the lexicographic objective of an answer), :mod:`.plan`
(executable action order) and :mod:`.reasons` (why an item stays unplaced).
"""
