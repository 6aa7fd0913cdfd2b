"""The one error type for unusable source data or settings."""


class SourceError(ValueError):
    """Bad source input or configuration. The message names the file or setting and says what to do."""
