"""Function runtimes: named backends that check and run a function's code (`register_function_runtimes`)."""
