"""Proto <-> domain model: resources, nodes, items, snapshots.

``*_from_proto`` validate every field and raise
:class:`~optsched.errors.DomainError` naming the proto field path
(``pods.snapshot.nodes[3].capacity.quantities[cpu_millis]``); the domain
constructors then run their own checks, whose errors are re-raised under the
same path. ``*_to_proto`` are their inverses.

Decoding sits on the service's request path, so field paths are formatted
only for a value that fails its check (``_at`` joins a message's path and a
field name when needed), and empty repeated fields are skipped outright. A
server also keeps the nodes and items it decoded under their bytes
(:mod:`optsched.api.decode_cache`), since a scheduler resends most of them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sized
from types import TracebackType
from typing import Any, TypeVar

from google.protobuf.message import Message

from optsched.api import decode_cache
from optsched.api.decode_cache import DecodeCache
from optsched.api.limits import MAX_ABS_PRIORITY, MAX_LABEL_CHARS, MAX_NAME_CHARS, Limits
from optsched.api.v1 import types_pb2 as pb
from optsched.errors import DomainError, ProblemTooLarge
from optsched.model import (
    HOSTNAME_KEY,
    AffinityTerm,
    Assignment,
    Gpu,
    Item,
    LabelSelector,
    MigInstance,
    Node,
    NumaNode,
    Resources,
    SelectorRequirement,
    Snapshot,
    Taint,
    Toleration,
)
from optsched.model.labels import SELECTOR_OPERATORS, TAINT_EFFECTS, TOLERATION_OPERATORS
from optsched.model.resources import checked_resources

T = TypeVar("T")

KIND_NAMES = {pb.ITEM_KIND_POD: "pod", pb.ITEM_KIND_VM: "vm"}
KNOWN_KINDS = frozenset({pb.ITEM_KIND_UNSPECIFIED, *KIND_NAMES})


class at:  # lower case: used as ``with at(path):``, as the function it replaces
    """Re-raise a domain constructor's error under the proto path ``path``.
    (A class: cheaper to enter than a generator-based context manager.)"""

    def __init__(self, path: str) -> None:
        self.path = path

    def __enter__(self) -> None:
        return None

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if isinstance(exc, DomainError) and not exc.field.startswith(self.path):
            raise DomainError(self.path, f"{exc.field}: {exc.message}") from exc


def _at(path: str, name: str) -> str:
    """The path of field ``name`` of the message at ``path`` (``name`` empty:
    the message itself)."""
    return f"{path}.{name}" if name else path


def text(value: str, path: str, *, required: bool = True, limit: int = MAX_NAME_CHARS) -> str:
    if required and not value:
        raise DomainError(path, "must not be empty")
    if len(value) > limit:
        raise DomainError(path, f"is {len(value)} characters long, at most {limit} allowed")
    return value


def count(values: Sized, path: str, limit: int) -> None:
    if len(values) > limit:
        raise ProblemTooLarge(path, f"has {len(values)} entries, at most {limit} allowed")


def _text_at(
    value: str, path: str, name: str, *, required: bool = True, limit: int = MAX_NAME_CHARS
) -> str:
    """:func:`text` for the field ``name`` of the message at ``path``."""
    if (required and not value) or len(value) > limit:
        text(value, _at(path, name), required=required, limit=limit)
    return value


def string_map(
    values: Mapping[str, str], path: str, limits: Limits, name: str = ""
) -> dict[str, str]:
    # One copy out of the proto map (a upb map's Mapping methods are several
    # times slower than a dict's; iterating its keys and indexing is the
    # fastest way out); paths are formatted only for an entry that fails.
    if not values:
        return {}
    out = {k: values[k] for k in values}
    if len(out) > limits.max_entries:
        count(out, _at(path, name), limits.max_entries)
    for k, v in out.items():
        if not k or len(k) > MAX_LABEL_CHARS or len(v) > MAX_LABEL_CHARS:
            text(k, f"{_at(path, name)}[{k!r}]", limit=MAX_LABEL_CHARS)
            text(v, f"{_at(path, name)}[{k!r}]", required=False, limit=MAX_LABEL_CHARS)
    return out


def quantity(value: int, path: str, limits: Limits) -> int:
    if value < 0:
        raise DomainError(path, f"must not be negative, got {value}")
    if value > limits.max_quantity:
        raise DomainError(path, f"is {value}, at most {limits.max_quantity} allowed")
    return int(value)


def resources_from_proto(
    msg: pb.Resources, path: str, limits: Limits, field: str = ""
) -> Resources:
    """The vector in ``msg``, the field ``field`` (or, empty, the message) at ``path``."""
    values = msg.quantities
    if not values:  # an unset vector (a node's reservation, mostly)
        return checked_resources({})
    out = {k: values[k] for k in values}  # one copy out of the upb map, as in string_map
    if len(out) > limits.max_entries:
        count(out, f"{_at(path, field)}.quantities", limits.max_entries)
    top = limits.max_quantity
    for name, value in out.items():
        if not name or len(name) > MAX_NAME_CHARS or not 0 <= value <= top:
            where = f"{_at(path, field)}.quantities[{name}]"
            text(name, where)
            quantity(value, where, limits)
    # every entry checked above, as Resources.of would: the model keeps it as is
    return checked_resources(dict(sorted(out.items())))


def _selector(msg: pb.LabelSelector, path: str, limits: Limits) -> LabelSelector:
    count(msg.match_expressions, f"{path}.match_expressions", limits.max_entries)
    reqs = []
    for i, r in enumerate(msg.match_expressions):
        where = f"{path}.match_expressions[{i}]"
        text(r.key, f"{where}.key", limit=MAX_LABEL_CHARS)
        if r.operator not in SELECTOR_OPERATORS:
            raise DomainError(f"{where}.operator", f"must be one of {SELECTOR_OPERATORS}")
        if r.operator in ("In", "NotIn") and not r.values:
            raise DomainError(f"{where}.values", f"{r.operator} needs values")
        if r.operator in ("Exists", "DoesNotExist") and r.values:
            raise DomainError(f"{where}.values", f"{r.operator} takes no values")
        reqs.append(SelectorRequirement(r.key, r.operator, tuple(r.values)))
    labels = string_map(msg.match_labels, f"{path}.match_labels", limits)
    return LabelSelector(labels, tuple(reqs))


def _terms(msgs: list[pb.AffinityTerm], path: str, limits: Limits) -> tuple[AffinityTerm, ...]:
    count(msgs, path, limits.max_entries)
    out = []
    for i, t in enumerate(msgs):
        where = f"{path}[{i}]"
        sel = _selector(t.selector, f"{where}.selector", limits)
        key = text(t.topology_key, f"{where}.topology_key", required=False, limit=MAX_LABEL_CHARS)
        spaces = tuple(text(n, f"{where}.namespaces[{j}]") for j, n in enumerate(t.namespaces))
        out.append(AffinityTerm(sel, key or HOSTNAME_KEY, spaces))
    return tuple(out)


def _taints(msgs: list[pb.Taint], path: str, limits: Limits) -> tuple[Taint, ...]:
    count(msgs, path, limits.max_entries)
    out = []
    for i, t in enumerate(msgs):
        text(t.key, f"{path}[{i}].key", limit=MAX_LABEL_CHARS)
        effect = t.effect or "NoSchedule"
        if effect not in TAINT_EFFECTS:
            raise DomainError(f"{path}[{i}].effect", f"must be one of {TAINT_EFFECTS}")
        out.append(Taint(t.key, text(t.value, f"{path}[{i}].value", required=False), effect))
    return tuple(out)


def _tolerations(msgs: list[pb.Toleration], path: str, limits: Limits) -> tuple[Toleration, ...]:
    count(msgs, path, limits.max_entries)
    out = []
    for i, t in enumerate(msgs):
        op = t.operator or "Equal"
        if op not in TOLERATION_OPERATORS:
            raise DomainError(f"{path}[{i}].operator", f"must be one of {TOLERATION_OPERATORS}")
        if op == "Exists" and t.value:
            raise DomainError(f"{path}[{i}].value", "must be empty with operator Exists")
        if t.effect and t.effect not in TAINT_EFFECTS:
            raise DomainError(f"{path}[{i}].effect", f"must be empty or one of {TAINT_EFFECTS}")
        text(t.key, f"{path}[{i}].key", required=op == "Equal", limit=MAX_LABEL_CHARS)
        out.append(Toleration(t.key, op, t.value, t.effect))
    return tuple(out)


def _gpus(msgs: list[pb.Gpu], path: str, limits: Limits) -> tuple[Gpu, ...]:
    count(msgs, path, limits.max_entries)
    out = []
    for i, g in enumerate(msgs):
        where = f"{path}[{i}]"
        count(g.instances, f"{where}.instances", limits.max_entries)
        instances = []
        for j, m in enumerate(g.instances):
            w = f"{where}.instances[{j}]"
            if m.start_slice < 0:
                raise DomainError(f"{w}.start_slice", f"must not be negative, got {m.start_slice}")
            iid, profile = text(m.instance_id, f"{w}.instance_id"), text(m.profile, f"{w}.profile")
            instances.append(MigInstance(iid, profile, m.start_slice, m.busy))
        gid, model = text(g.gpu_id, f"{where}.gpu_id"), text(g.model, f"{where}.model")
        out.append(Gpu(gid, model, tuple(instances)))
    return tuple(out)


def _numa(msgs: list[pb.NumaNode], path: str, limits: Limits) -> tuple[NumaNode, ...]:
    count(msgs, path, limits.max_entries)
    return tuple(
        NumaNode(
            resources_from_proto(n.capacity, f"{path}[{i}].capacity", limits),
            resources_from_proto(n.reserved, f"{path}[{i}].reserved", limits),
        )
        for i, n in enumerate(msgs)
    )


def node_from_proto(msg: pb.Node, path: str, limits: Limits) -> Node:
    # fields are checked in a fixed order, so a message with several bad
    # fields always reports the same one
    name = _text_at(msg.name, path, "name")
    numa = _numa(list(msg.numa), f"{path}.numa", limits) if msg.numa else ()
    capacity = resources_from_proto(msg.capacity, path, limits, "capacity")
    labels = string_map(msg.labels, path, limits, "labels")
    taints = _taints(list(msg.taints), f"{path}.taints", limits) if msg.taints else ()
    gpus = _gpus(list(msg.gpus), f"{path}.gpus", limits) if msg.gpus else ()
    cluster = _text_at(msg.cluster, path, "cluster", required=False)
    reserved = resources_from_proto(msg.reserved, path, limits, "reserved")
    with at(path):
        return Node(
            name=name,
            capacity=capacity,
            labels=labels,
            taints=taints,
            numa=numa,
            gpus=gpus,
            schedulable=not msg.unschedulable,
            cluster=cluster,
            reserved=reserved,
        )


def item_from_proto(msg: pb.Item, path: str, limits: Limits, default_kind: str) -> Item:
    if msg.kind not in KNOWN_KINDS:
        raise DomainError(f"{path}.kind", f"unknown item kind {msg.kind}")
    if abs(msg.priority) > MAX_ABS_PRIORITY:
        raise DomainError(f"{path}.priority", f"must be within ±{MAX_ABS_PRIORITY}")
    # fields are checked in a fixed order, so a message with several bad
    # fields always reports the same one
    item_id = _text_at(msg.item_id, path, "item_id")
    requests = resources_from_proto(msg.requests, path, limits, "requests")
    namespace = _text_at(msg.namespace, path, "namespace", required=False) or "default"
    owner = _text_at(msg.owner, path, "owner", required=False)
    labels = string_map(msg.labels, path, limits, "labels")
    node_selector = string_map(msg.node_selector, path, limits, "node_selector")
    tolerations = (
        _tolerations(list(msg.tolerations), f"{path}.tolerations", limits)
        if msg.tolerations
        else ()
    )
    affinity = _terms(list(msg.affinity), f"{path}.affinity", limits) if msg.affinity else ()
    anti_affinity = (
        _terms(list(msg.anti_affinity), f"{path}.anti_affinity", limits)
        if msg.anti_affinity
        else ()
    )
    cluster = _text_at(msg.cluster, path, "cluster", required=False)
    with at(path):
        return Item(
            item_id=item_id,
            requests=requests,
            priority=int(msg.priority),
            namespace=namespace,
            owner=owner,
            labels=labels,
            movable=msg.movable if msg.HasField("movable") else True,
            evictable=msg.evictable if msg.HasField("evictable") else True,
            node_selector=node_selector,
            tolerations=tolerations,
            affinity=affinity,
            anti_affinity=anti_affinity,
            numa_split=msg.numa_split,
            kind=KIND_NAMES.get(msg.kind, default_kind),
            cluster=cluster,
        )


def _assignments(
    msgs: list[pb.Assignment], path: str, nodes: dict[str, Node], item_ids: set[str]
) -> dict[str, Assignment]:
    out: dict[str, Assignment] = {}
    for i, a in enumerate(msgs):
        item_id, node, numa = a.item_id, a.node, list(a.numa)
        if item_id not in item_ids:
            raise DomainError(f"{path}[{i}].item_id", f"unknown item {item_id!r}")
        if item_id in out:
            raise DomainError(f"{path}[{i}].item_id", f"item {item_id!r} is assigned twice")
        if not numa and node in nodes:  # nothing more to check
            out[item_id] = Assignment(node)
        else:
            out[item_id] = location_from_proto(node, numa, f"{path}[{i}]", nodes)
    return out


def location_from_proto(
    node: str, numa: list[int], path: str, nodes: dict[str, Node]
) -> Assignment:
    target = nodes.get(node)
    if target is None:
        raise DomainError(f"{path}.node", f"unknown node {node!r}")
    for j, k in enumerate(numa):
        if not 0 <= k < len(target.numa):
            raise DomainError(f"{path}.numa[{j}]", f"node {node!r} has no NUMA node {k}")
    if len(set(numa)) != len(numa):
        raise DomainError(f"{path}.numa", "repeats a NUMA node")
    return Assignment(node, tuple(numa))


_scope_ids: dict[tuple[Limits, str], tuple[int, int]] = {}


def _scopes(limits: Limits, default_kind: str) -> tuple[int, int]:
    """Decode-cache scopes (node, item) of decoding under ``limits`` with
    ``default_kind``: a decoded object depends on these and its bytes only."""
    key = (limits, default_kind)
    found = _scope_ids.get(key)
    if found is None:
        n = len(_scope_ids)
        found = _scope_ids.setdefault(key, (2 * n, 2 * n + 1))
    return found


def _cached(
    cache: DecodeCache | None, scope: int, decode: Callable[..., T], msg: Message, *args: Any
) -> T:
    """``decode(msg, *args)``, or the object an equal message decoded to before."""
    if cache is None:
        return decode(msg, *args)
    key = msg.SerializeToString()
    found = cache.get(scope, key)
    if found is None:
        found = decode(msg, *args)
        cache.put(scope, key, found)
    return found  # type: ignore[no-any-return]


def snapshot_from_proto(msg: pb.Snapshot, path: str, limits: Limits, default_kind: str) -> Snapshot:
    if len(msg.nodes) > limits.max_nodes:
        count(msg.nodes, f"{path}.nodes", limits.max_nodes)
    if len(msg.items) > limits.max_items:
        count(msg.items, f"{path}.items", limits.max_items)
    cache = decode_cache.active()
    node_scope, item_scope = _scopes(limits, default_kind) if cache is not None else (0, 0)
    nodes: dict[str, Node] = {}
    for i, n in enumerate(msg.nodes):
        node = _cached(cache, node_scope, node_from_proto, n, f"{path}.nodes[{i}]", limits)
        if node.name in nodes:
            raise DomainError(f"{path}.nodes[{i}].name", f"duplicate node name {node.name!r}")
        nodes[node.name] = node
    items: dict[str, Item] = {}
    for i, it in enumerate(msg.items):
        where = f"{path}.items[{i}]"
        item = _cached(cache, item_scope, item_from_proto, it, where, limits, default_kind)
        if item.item_id in items:
            raise DomainError(f"{path}.items[{i}].item_id", f"duplicate item id {item.item_id!r}")
        items[item.item_id] = item
    assignments = _assignments(list(msg.assignments), f"{path}.assignments", nodes, set(items))
    budgets = {}
    for owner, k in msg.disruption_budgets.items():
        where = f"{path}.disruption_budgets[{owner}]"
        budgets[text(owner, where)] = quantity(k, where, limits)
    with at(path):
        return Snapshot(tuple(nodes.values()), tuple(items.values()), assignments, budgets)


# Domain -> proto.

POD_KINDS = {v: k for k, v in KIND_NAMES.items()}


def resources_to_proto(res: Mapping[str, int], msg: pb.Resources) -> pb.Resources:
    msg.quantities.update({k: int(v) for k, v in res.items()})
    return msg


def _selector_to_proto(sel: LabelSelector, msg: pb.LabelSelector) -> None:
    msg.match_labels.update(sel.match_labels)
    for r in sel.match_expressions:
        msg.match_expressions.add(key=r.key, operator=r.operator, values=list(r.values))


def _terms_to_proto(terms: tuple[AffinityTerm, ...], out: object) -> None:
    for t in terms:
        msg = out.add(topology_key=t.topology_key, namespaces=list(t.namespaces))  # type: ignore[attr-defined]
        _selector_to_proto(t.selector, msg.selector)


def node_to_proto(node: Node, msg: pb.Node) -> pb.Node:
    msg.name, msg.unschedulable, msg.cluster = node.name, not node.schedulable, node.cluster
    resources_to_proto(node.capacity, msg.capacity)
    resources_to_proto(node.reserved, msg.reserved)
    msg.labels.update(node.labels)
    for t in node.taints:
        msg.taints.add(key=t.key, value=t.value, effect=t.effect)
    for n in node.numa:
        numa = msg.numa.add()
        resources_to_proto(n.capacity, numa.capacity)
        resources_to_proto(n.reserved, numa.reserved)
    for g in node.gpus:
        gpu = msg.gpus.add(gpu_id=g.gpu_id, model=g.model)
        for m in g.instances:
            gpu.instances.add(
                instance_id=m.instance_id, profile=m.profile, start_slice=m.start_slice, busy=m.busy
            )
    return msg


def item_to_proto(item: Item, msg: pb.Item) -> pb.Item:
    msg.item_id, msg.priority, msg.namespace = item.item_id, item.priority, item.namespace
    msg.owner, msg.cluster, msg.numa_split = item.owner, item.cluster, item.numa_split
    msg.kind = POD_KINDS[item.kind]  # type: ignore[assignment]
    resources_to_proto(item.requests, msg.requests)
    msg.labels.update(item.labels)
    msg.node_selector.update(item.node_selector)
    if not item.movable:
        msg.movable = False
    if not item.evictable:
        msg.evictable = False
    for t in item.tolerations:
        msg.tolerations.add(key=t.key, operator=t.operator, value=t.value, effect=t.effect)
    _terms_to_proto(item.affinity, msg.affinity)
    _terms_to_proto(item.anti_affinity, msg.anti_affinity)
    return msg


def snapshot_to_proto(snapshot: Snapshot, msg: pb.Snapshot) -> pb.Snapshot:
    for n in snapshot.nodes:
        node_to_proto(n, msg.nodes.add())
    for it in snapshot.items:
        item_to_proto(it, msg.items.add())
    for item_id, a in snapshot.assignments.items():
        msg.assignments.add(item_id=item_id, node=a.node, numa=list(a.numa))
    msg.disruption_budgets.update(snapshot.disruption_budgets)
    return msg
