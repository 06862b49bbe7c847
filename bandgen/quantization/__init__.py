"""Vector quantisers of latent sequences: the ``BaseQuantizer`` contract and DAC-style RVQ.

Import the submodules directly (``from bandgen.quantization.rvq import ResidualVectorQuantizer``);
nothing is loaded here.
"""
