"""Hypothesis profiles. The default, ``ci``, is derandomized: every run of the
suite tries the same examples, so a red CI is a change's doing and never the
luck of the draw. ``explore`` draws fresh random examples on every run (500
where a property does not set its own count) to hunt for new counterexamples
(``make explore``); pin what it finds with ``@example`` next to the property."""

import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True, print_blob=True)
settings.register_profile("explore", max_examples=500, print_blob=True, database=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
