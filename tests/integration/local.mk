# tests and programs of tests/integration are listed here
