"""The body of a job's process: convert the stored request, solve with a
fresh portfolio, send back the serialized response (or an error line).

Runs in a spawned process (never forked: the server's gRPC threads must not
be copied), so a crash or a cancellation (terminate) touches only this job.
"""

from __future__ import annotations

import importlib
import logging
import os
import threading
import time
from multiprocessing.connection import Connection

from optsched.api.convert_problems import KINDS
from optsched.api.limits import Limits
from optsched.api.solving import check_solver
from optsched.budget import Budget
from optsched.errors import DomainError
from optsched.portfolio import Portfolio, run

log = logging.getLogger(__name__)

OK = "ok"
ERROR = "error"
# How often a job process checks that its server is still alive.
PARENT_CHECK_S = 0.5


def _exit_with_parent() -> None:
    """A server killed with SIGKILL cannot stop its jobs; each job stops
    itself once it is orphaned, and the restarted server re-runs it."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_CHECK_S)
        os._exit(1)

    threading.Thread(target=watch, daemon=True, name="parent-watch").start()


def solve_job(kind_name: str, request_bytes: bytes, budget_s: float, limits: Limits) -> bytes:
    kind = KINDS[kind_name]
    request = kind.request.FromString(request_bytes)
    problem = kind.problem(request, limits)
    portfolio = Portfolio()
    solver = check_solver(portfolio, request.solver, problem)  # type: ignore[attr-defined]
    # a spawned process: the models load outside the job's budget
    result = run(problem, Budget(budget_s), solver, portfolio)
    return kind.response_for(result, budget_s).SerializeToString()  # type: ignore[no-any-return]


def run_job(
    conn: Connection,
    kind_name: str,
    request_bytes: bytes,
    budget_s: float,
    limits: Limits,
    plugins: tuple[str, ...],
) -> None:
    _exit_with_parent()
    try:
        for module in plugins:
            importlib.import_module(module)
        conn.send((OK, solve_job(kind_name, request_bytes, budget_s, limits)))
    except DomainError as exc:
        conn.send((ERROR, f"{exc.field}: {exc.message}"))
    except Exception:
        log.exception("job worker failed")
        conn.send((ERROR, "internal error in the job worker (see the server log)"))
    finally:
        conn.close()
