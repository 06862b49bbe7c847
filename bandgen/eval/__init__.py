"""Evaluation suite: code a folder of clips with several codecs, measure, tabulate and plot.

``evaluate(refs, ["none:16", "aac:16"], out)`` is ``bandgen eval``; ``compare(ref, [a, b], png)``
is ``bandgen compare``. See :mod:`bandgen.eval.suite` for the output layout and
:mod:`bandgen.eval.specs` for the codec spec syntax.
"""

from __future__ import annotations

from bandgen.eval.suite import EvalReport, compare, evaluate

__all__ = ["EvalReport", "compare", "evaluate"]
