"""oversight-nlp: measure management oversight in nDelius probation case notes."""

__version__ = "0.1.0"
