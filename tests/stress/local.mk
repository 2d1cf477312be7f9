# tests and programs of tests/stress are listed here
