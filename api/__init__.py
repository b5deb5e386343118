"""optsched.api"""
