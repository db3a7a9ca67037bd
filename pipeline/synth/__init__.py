"""The synthetic nDelius export: the embedded default that the demo, tests and benchmarks run on."""

from pipeline.synth.generate import Synth, generate
from pipeline.synth.writers import FORMATS, write_synth

__all__ = ["FORMATS", "Synth", "generate", "write_synth"]
