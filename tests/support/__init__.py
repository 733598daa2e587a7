"""Test and benchmark tooling (not shipped in the package).

Importable as ``tests.support`` when the checkout's root is on sys.path: pytest puts it
there (``pythonpath`` in pyproject.toml), benchmarks through bench/checkout.py.
"""
