"""The demo tests: the sample data set (``test_sample``) and the demo run (``test_run``), each with
its own module-scoped fixture (a sample, one demo run kept serving); the ``demo`` command is tested
in tests/cli/."""
