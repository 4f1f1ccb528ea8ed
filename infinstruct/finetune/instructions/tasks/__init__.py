"""Example generators, one module per source family; ``base`` holds what they share."""
