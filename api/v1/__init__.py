"""The ``optsched.v1`` protos and their generated modules (see
:mod:`optsched.api.codegen`; do not edit the ``*_pb2*`` files by hand)."""
