# tests and programs of tests are listed here
