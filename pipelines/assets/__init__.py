"""Assets, one module per stage. Each stays thin and calls plain functions."""
