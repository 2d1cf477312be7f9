# tests and programs of bench are listed here
