"""Checkers behind :func:`optsched.validate.validate`, one module per problem family."""
