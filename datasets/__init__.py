"""optsched.datasets"""
