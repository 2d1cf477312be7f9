# tests and programs of tests/unit are listed here
