import pytest

from optsched.datasets.vmr2l import load_shipped, load_vmr2l
from optsched.errors import DomainError
from optsched.metrics import fragment_rate, utilization
from optsched.model import CPU_CORES


def test_medium_reproduces_published_figures() -> None:
    snap = load_shipped("medium")
    assert len(snap.nodes) == 279
    assert len(snap.items) == 2089
    assert round(fragment_rate(snap), 3) == 0.977
    assert round(utilization(snap)[CPU_CORES], 3) == 0.943
    assert {n.cluster for n in snap.nodes} == {it.cluster for it in snap.items}
    assert len({n.cluster for n in snap.nodes}) == 2


@pytest.mark.slow
def test_large_reproduces_published_figures() -> None:
    snap = load_shipped("large")
    assert (len(snap.nodes), len(snap.items)) == (1176, 4546)
    assert round(fragment_rate(snap), 3) == 0.600


def _tiny(free0: float, free1: float, status: str = "ACTIVE") -> dict:
    return {
        "cluster_list": [
            {
                "cluster_name": "c",
                "host_info": [
                    {
                        "node_id": "pm_0",
                        "status": status,
                        "node_cpu": 88,
                        "node_mem_mb": 200,
                        "numa": [
                            {
                                "node": 0,
                                "total_cpu": 44,
                                "free_cpu": free0,
                                "memory_huge_total_mb": 100,
                                "memory_huge_free_mb": 90,
                            },
                            {
                                "node": 1,
                                "total_cpu": 44,
                                "free_cpu": free1,
                                "memory_huge_total_mb": 100,
                                "memory_huge_free_mb": 100,
                            },
                        ],
                        "rack_id": 1,
                    }
                ],
                "vm_instance": [
                    {
                        "instance_id": "vm_0",
                        "host_id": "pm_0",
                        "numa": [{"node": 0, "cpu": 4, "mem_mb": 10}],
                        "allow_migration": 0,
                    }
                ],
                "other_requirement": {
                    "deployment_set": [{"name": "ds", "granularity": "rack", "vm_list": ["vm_0"]}]
                },
            }
        ]
    }


def test_fragment_rate_on_hand_built_host() -> None:
    # NUMA 0: 44 - 4 = 40 free (40 mod 16 = 8); NUMA 1: 20 free of which 24 reserved (20 mod 16 = 4)
    snap = load_vmr2l(_tiny(40, 20))
    assert fragment_rate(snap) == pytest.approx((8 + 4) / 60)
    assert fragment_rate(snap, fragment_cores=8) == pytest.approx(4 / 60)
    vm = snap.item("vm_0")
    assert not vm.movable and vm.anti_affinity[0].topology_key == "optsched.io/rack"
    # an inactive host is not a destination and does not count
    assert fragment_rate(load_vmr2l(_tiny(40, 20, status="OUTAGE"))) == 0.0


def test_bad_vmr2l_input_names_the_field() -> None:
    data = _tiny(40, 20)
    data["cluster_list"][0]["host_info"][0]["numa"][1]["free_cpu"] = float("nan")
    with pytest.raises(DomainError, match=r"host_info\[0\]\.numa\[1\]\.free_cpu"):
        load_vmr2l(data)
