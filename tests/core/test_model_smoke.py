import math

import pytest

from optsched.errors import DomainError
from optsched.model import Assignment, Item, Node, Snapshot


@pytest.mark.parametrize("bad", [-1, math.nan, math.inf, 0.5, "3", True])
def test_bad_quantities_name_the_field(bad: object) -> None:
    with pytest.raises(DomainError) as exc:
        Node("n1", {"cpu_millis": bad})  # type: ignore[arg-type]
    assert exc.value.field == "nodes[n1].capacity.cpu_millis"


def test_duplicates_and_missing_references() -> None:
    n = Node("n1", {"cpu_millis": 1000})
    it = Item("p1", {"cpu_millis": 100})
    with pytest.raises(DomainError, match="duplicate node"):
        Snapshot((n, n), ())
    with pytest.raises(DomainError, match="duplicate item"):
        Snapshot((n,), (it, it))
    with pytest.raises(DomainError, match="unknown node"):
        Snapshot((n,), (it,), {"p1": Assignment("n2")})


def test_subpackages_import() -> None:
    import optsched.api
    import optsched.datasets
    import optsched.gnn
    import optsched.solvers  # noqa: F401
