"""optsched: placement, rescheduling and sizing for cloud clusters."""

__version__ = "0.1.0"
