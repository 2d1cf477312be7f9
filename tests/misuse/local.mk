# misuse (death) tests, sanitizer builds, fuzzing, valgrind
