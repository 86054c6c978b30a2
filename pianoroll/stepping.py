"""The network stepped forward one column at a time, on a batch of pieces, as fast as the CPU allows.

Composing asks the network for one column per step, each time on the last
WINDOW columns. The seed called ``model.predict`` for that, which builds a data
pipeline around every call and costs far more than the network. Two ways here:

- ``WindowStep`` runs the whole network as one traced graph on the
  (count, WINDOW, PITCHES) window. It works for any network.
- ``ColumnStep`` serves networks shaped like ours: layers that read one column
  at a time, one LSTM over the window, then layers on its last output. The
  column layers and the LSTM's input projection depend on one column only,
  so they run once per column, when it enters the window, and are kept while
  it stays there; each step then runs only the LSTM's recurrence and the
  layers after it, compiled with XLA into a few fused kernels. The ops and their shapes are the
  ones Keras runs, so the probabilities are the network's own; ``start``
  checks that against the whole network on the primer and falls back to
  ``WindowStep`` if they ever differ by more than float rounding.

State (the window, or the kept projections) is passed in and out, so one
compiled stepper serves any number of compositions.
"""

from __future__ import annotations

import weakref
from typing import Any

import numpy as np

from pianoroll.roll import PITCHES, WINDOW

AGREEMENT = 1e-5  # the most a ColumnStep probability may differ from the whole network's


class WindowStep:
    """Any network, one traced graph call per step on the whole window."""

    def __init__(self, model: Any):
        import tensorflow as tf

        self._graph = tf.function(lambda window: model(window, training=False), reduce_retracing=True, autograph=False)

    def start(self, window: np.ndarray) -> tuple[Any, np.ndarray]:
        """The state for a (count, WINDOW, PITCHES) primer window, and the probabilities of the next column."""
        window = np.asarray(window, dtype=np.float32)
        return window, self.probabilities(window)

    def advance(self, window: Any, columns: np.ndarray) -> tuple[Any, np.ndarray]:
        """Append the decided (count, PITCHES) columns; the new state and the next probabilities."""
        window = np.concatenate([window[:, 1:], np.asarray(columns, np.float32)[:, None]], axis=1)
        return window, self.probabilities(window)

    def probabilities(self, window: np.ndarray) -> np.ndarray:
        return self._graph(window).numpy()


class ColumnStep:
    """Column layers → LSTM → output layers, with each column's LSTM input projection kept while in the window."""

    def __init__(self, model: Any, column_layers: list, lstm: Any, output_layers: list):
        import tensorflow as tf

        self._whole = WindowStep(model)
        self._column_layers, self._cell, self._output_layers = column_layers, lstm.cell, output_layers
        self._project = tf.function(self._projection, reduce_retracing=True, autograph=False)
        self._recur = tf.function(self._recurrence, reduce_retracing=True, autograph=False)
        # XLA fuses the recurrence's ~120 small ops: a one-piece step is mostly their fixed cost.
        self._advance = tf.function(self._slide, jit_compile=True, reduce_retracing=True, autograph=False)

    def start(self, window: np.ndarray) -> tuple[Any, np.ndarray]:
        import tensorflow as tf

        window = np.asarray(window, dtype=np.float32)
        projections = tf.stack([self._project(window[:, t]) for t in range(WINDOW)], axis=1)
        probs = self._recur(projections).numpy()
        whole_state, whole = self._whole.start(window)
        if np.max(np.abs(probs - whole), initial=0) > AGREEMENT:
            return ("window", whole_state), whole
        return ("columns", projections), probs

    def advance(self, state: Any, columns: np.ndarray) -> tuple[Any, np.ndarray]:
        kind, inner = state
        if kind == "window":
            inner, probs = self._whole.advance(inner, columns)
            return (kind, inner), probs
        projections, probs = self._advance(inner, np.asarray(columns, np.float32))
        return (kind, projections), probs.numpy()

    def _projection(self, column):
        """One column through the column layers and the LSTM's input kernel: (count, 4 × units)."""
        import tensorflow as tf

        features = column
        for layer in self._column_layers:
            features = layer(features, training=False)
        return tf.matmul(tf.reshape(features, (tf.shape(column)[0], -1)), self._cell.kernel)

    def _recurrence(self, projections):
        """Keras's LSTMCell (implementation 2) over the window from zero state, then the output layers."""
        import tensorflow as tf

        cell = self._cell
        h = tf.zeros((tf.shape(projections)[0], cell.units), dtype=projections.dtype)
        c = h
        for t in range(WINDOW):
            z = tf.add(tf.add(projections[:, t], tf.matmul(h, cell.recurrent_kernel)), cell.bias)
            z_i, z_f, z_c, z_o = tf.split(z, 4, axis=1)
            c = tf.sigmoid(z_f) * c + tf.sigmoid(z_i) * tf.tanh(z_c)
            h = tf.sigmoid(z_o) * tf.tanh(c)
        for layer in self._output_layers:
            h = layer(h, training=False)
        return h

    def _slide(self, projections, columns):
        import tensorflow as tf

        projections = tf.concat([projections[:, 1:], self._projection(columns)[:, None]], axis=1)
        return projections, self._recurrence(projections)


_STEPPERS: "weakref.WeakKeyDictionary[Any, Any]" = weakref.WeakKeyDictionary()


def stepper(model: Any) -> WindowStep | ColumnStep:
    """The fastest stepper for a network, built (and traced) once per model."""
    if model not in _STEPPERS:
        parts = column_lstm_parts(model)
        _STEPPERS[model] = ColumnStep(model, *parts) if parts else WindowStep(model)
    return _STEPPERS[model]


def column_lstm_parts(model: Any) -> tuple[list, Any, list] | None:
    """(column layers, the LSTM, output layers) when a Sequential network has that shape, else None.

    Column layers are a Reshape that only gives each column its own shape,
    TimeDistributed wrappers (unwrapped: they run on one column) and Dropout
    (nothing at inference). The LSTM must be Keras's fused cell with its
    default activations, reading the window forwards and returning its last
    output.
    """
    import keras
    from keras import layers

    if not isinstance(model, keras.Sequential):
        return None
    found = [i for i, layer in enumerate(model.layers) if isinstance(layer, layers.LSTM)]
    if len(found) != 1:
        return None
    lstm = model.layers[found[0]]
    cell = lstm.cell
    if (lstm.return_sequences or lstm.go_backwards or lstm.stateful or cell.implementation != 2
            or not cell.use_bias or cell.activation is not keras.activations.tanh
            or cell.recurrent_activation is not keras.activations.sigmoid):
        return None
    column_layers = []
    for layer in model.layers[:found[0]]:
        if isinstance(layer, layers.Reshape) and layer.target_shape[:1] == (WINDOW,) \
                and int(np.prod(layer.target_shape[1:])) == PITCHES:
            column_layers.append(layers.Reshape(layer.target_shape[1:]))
        elif isinstance(layer, layers.TimeDistributed):
            column_layers.append(layer.layer)
        elif not isinstance(layer, layers.Dropout):
            return None
    return column_layers, lstm, model.layers[found[0] + 1:]
