"""``WORK_RATE``: one working-rate constant, light to import, the one every layer uses."""

from __future__ import annotations

import subprocess
import sys

from bandgen.audio import WORK_RATE


def test_every_layer_uses_the_one_constant() -> None:
    from bandgen.data import manifest
    from bandgen.eval.specs import EVAL_RATE
    from bandgen.hf import base
    from bandgen.losses.mel import MultiScaleMelLoss

    assert WORK_RATE == 48_000
    assert base.WORK_RATE is WORK_RATE and EVAL_RATE is WORK_RATE
    assert MultiScaleMelLoss().sample_rate == WORK_RATE
    assert manifest.WORK_RATE is WORK_RATE


def test_importing_it_loads_nothing_heavy() -> None:
    code = (
        "import sys; import bandgen.audio; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'numpy', 'torch', 'av'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
