"""Development tooling: the benchmark command, and the tiny random models that the tests and
the offline demo use."""
