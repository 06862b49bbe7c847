"""Signal processing: each analysis transform with its synthesis (stft, pqmf, qmf, ...).

Import the submodules directly (``from bandgen.dsp.pqmf import PQMF``); nothing is loaded here.
"""
