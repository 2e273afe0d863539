"""The BLAS floor of B1 and B4 (benchmarks/blas_floor.py): only the GEMMs their kernels run.
pytest-benchmark lists it beside the whole op; it stays out of the ratio summary, since a
short run's floor was not stable enough to quote."""
import pytest

from minidl.benchmark import KERNEL_WORKLOADS
from benchmarks.blas_floor import FLOORS

WITH_FLOOR = [w for w in KERNEL_WORKLOADS if w.id in FLOORS]


@pytest.mark.parametrize("workload", WITH_FLOOR, ids=[w.id for w in WITH_FLOOR])
def test_blas_floor(benchmark, workload):
    benchmark.group = f"{workload.id} {workload.title}"
    benchmark(FLOORS[workload.id]()[0])
