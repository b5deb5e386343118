"""optsched.gnn"""
