"""infinstruct: turn an organisation's own text into a working domain dialogue model."""

__version__ = "0.1.0"
