"""Package layout: the user's top-level folders, all under the import root
``optsched`` (DESIGN.md, "Layout and import names"). Subpackages are found
automatically, so a new folder needs no edit here."""

from setuptools import find_packages, setup

ROOTS = {
    "optsched": "optsched",
    "optsched.solvers": "solvers",
    "optsched.gnn": "gnn",
    "optsched.api": "api",
    "optsched.datasets": "datasets",
}

packages: list[str] = []
for package, folder in ROOTS.items():
    packages.append(package)
    packages += [f"{package}.{sub}" for sub in find_packages(folder)]

setup(packages=packages, package_dir=ROOTS)
