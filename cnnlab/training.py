"""What the training loops of both backends share: their settings, checked, and the minibatches."""

from __future__ import annotations

import numbers

from ._checks import positive_int

def check_fit_settings(op, x_val, y_val, epochs, batch_size, patience, min_delta):
    """The training loop's settings; returns ``(validate, epochs, batch_size, patience)``."""
    if (x_val is None) != (y_val is None):
        raise ValueError(f"{op}: give both x_val and y_val, or neither")
    validate = x_val is not None
    epochs = positive_int(epochs, "epochs", op)
    batch_size = positive_int(batch_size, "batch_size", op)
    if patience is not None:
        patience = positive_int(patience, "patience", op)
        if not validate:
            raise ValueError(f"{op}: early stopping (patience={patience}) watches the validation loss: "
                             f"give x_val and y_val")
    if not isinstance(min_delta, numbers.Real) or min_delta < 0:
        raise ValueError(f"{op}: min_delta must be a number >= 0, got {min_delta!r}")
    return validate, epochs, batch_size, patience


def batch_slices(n: int, batch_size: int) -> list[slice]:
    """``[0:batch_size], [batch_size:2 * batch_size], ...`` over n samples; the last one may be shorter."""
    return [slice(i, min(i + batch_size, n)) for i in range(0, n, batch_size)]
