"""Errors raised by the pure mask package."""


class MaskFormatError(ValueError):
    """Mask data (PNG, RLE, polygon or index map) is malformed; the message says what and where.

    A ``ValueError`` subclass, so callers that only know "bad input" can catch ``ValueError``;
    API layers turn it into a 400 response carrying ``str(error)``.
    """
