"""Classical change detection over an aligned pair (no model weights): the ``classical`` pass-1 detector.

>>> from tenken.changedet import ChangeDetector, ChangeParams
>>> dets = ChangeDetector(ChangeParams(sensitivity=6)).detect(pair)   # pair: tenken.inspect.AlignedPair
"""

from tenken.changedet.conditions import PairConditions
from tenken.changedet.detect import ChangeAnalysis, ChangeDetector, analyse_pair, detect_changes
from tenken.changedet.params import ChangeParams

__all__ = ["ChangeAnalysis", "ChangeDetector", "ChangeParams", "PairConditions", "analyse_pair", "detect_changes"]
