"""Whole models (n-SBG, ...) and their frozen config dataclasses.

Import the submodules directly (``from bandgen.models.nsbg import NSBG``); nothing is loaded here.
"""
