"""Neural building blocks: causal convs, FiLM/TFiLM, the SEANet generator, the 2-D ResNet encoder.

Import the submodules directly (``from bandgen.nn.seanet import SEANetGenerator``); nothing is
loaded here.
"""
