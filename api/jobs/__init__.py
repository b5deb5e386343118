"""Batch jobs: a SQLite store (WAL), a runner that executes each job in its
own process, and the Jobs gRPC servicer."""
