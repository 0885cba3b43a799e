"""Zenoti's application error codes and the exception that carries one to the API answer."""

NOT_FOUND = 502  # "invalid / not found": unknown ids, values that make no sense
MISSING_INPUT = 503  # a mandatory field is missing
NO_ACCESS = 438
SLOT_UNAVAILABLE = 4072  # "couldn't confirm, select the date/time again"
ALREADY_PAID = 460
INVOICE_CLOSED = 728
INVALID_PAGE = 422


class ApiError(Exception):
    """A business error: answered as `{"error": {"code", "message"}, **extra}` with HTTP 400
    (or 200 when the organization's `business_errors_as_200` knob is on)."""

    def __init__(self, code, message, **extra):
        super().__init__(message)
        self.code = code
        self.message = message
        self.extra = extra
