"""CLI subcommands, one module each (see :mod:`optsched.cli`)."""
