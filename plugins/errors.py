"""The one error type for input a user sent that cannot be used.

Every demo entry point (image preprocessing, MIDI primers, numeric controls)
raises `UnusableInputError` with a message written for the person who sent
the input: what was wrong and what to do instead. The Gradio layer turns it
into a `gr.Error`; anything else that escapes is a bug in the hub.
"""


class UnusableInputError(ValueError):
    """This input cannot be used; `str(error)` is a message fit to show the user."""


def bounded_number(value, name: str, low: float, high: float, integer: bool = False):
    """Return `value` as a number checked to lie in [low, high], or raise UnusableInputError.

    Gradio's sliders bound values in the browser only; the HTTP API accepts
    anything, so every numeric control goes through this on the server.
    """
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise UnusableInputError(f"{name} must be a number, got {value!r}.") from None
    if number != number or number in (float("inf"), float("-inf")):
        raise UnusableInputError(f"{name} must be a finite number, got {value!r}.")
    if not low <= number <= high:
        raise UnusableInputError(f"{name} must lie between {low:g} and {high:g}, got {number:g}.")
    if integer:
        if number != int(number):
            raise UnusableInputError(f"{name} must be a whole number, got {number:g}.")
        return int(number)
    return number


class DataError(RuntimeError):
    """Training data cannot be found or read; the message says how to provide it."""
