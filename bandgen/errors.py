"""Exceptions raised for user-facing problems.

Every error a user can cause (bad input file, corrupt bitstream, unknown option,
missing optional dependency) is a :class:`BandgenError` subclass whose message
says what is wrong and, where possible, what to do about it.
"""

from __future__ import annotations


class BandgenError(Exception):
    """Base class of all errors bandgen raises on bad input or configuration."""


class AudioInputError(BandgenError):
    """An input audio file is missing, unreadable, empty or silent."""


class BitstreamError(BandgenError):
    """A ``.bgn`` stream or side-info payload is malformed, truncated or of an unknown version."""


class ConfigError(BandgenError):
    """An option, mode, recipe key or model name is invalid."""


class MissingDependencyError(BandgenError):
    """An optional dependency is needed; the message names the extra to install."""


class BandgenWarning(UserWarning):
    """Something bandgen did differently from what was asked (e.g. a bitrate capped); the CLI
    prints it as ``bandgen: warning: ...``."""
