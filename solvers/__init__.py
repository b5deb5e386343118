"""optsched.solvers"""
