# tests and programs of tests are listed here

# The library's layers (src/LAYERS) hold: no file uses a room above it.
TESTS += tests/layers.sh
EXTRA_DIST += tests/layers.sh scripts/layers.py src/LAYERS
