# thread, fork and thread-exit tests
