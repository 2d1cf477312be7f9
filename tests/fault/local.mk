# tests and programs of tests/fault are listed here
