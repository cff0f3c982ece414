"""The Model tab's layer calculator: pick a layer type, type its arguments and an input shape, see the
output shape and the parameter count with the formula spelled out (the arithmetic the lessons do by hand).

All numbers come from ``app.models.calculator.calculate_fields`` (no arithmetic here); it answers on
every edit. Bad arguments show the calculator's plain message instead of a result.
"""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QComboBox, QFormLayout, QGridLayout, QHBoxLayout, QLabel, QLineEdit, QPushButton,
                               QSizePolicy, QVBoxLayout, QWidget)

from app.core.errors import UserError
from app.models.calculator import LAYER_TYPES, LayerCalc, calculate_fields
from app.ui.widgets.messages import MessageArea

# the lesson's example, shown when the calculator opens
EXAMPLE = ("Conv2d", {"in_channels": "1", "out_channels": "32", "kernel_size": "5", "padding": "2"}, "1x28x28")
ARG_TIPS = {
    "in_channels": "Channels of the input (1 for grey, 3 for colour, or the out_channels of the layer before).",
    "out_channels": "How many filters the layer learns: the channels of its output.",
    "kernel_size": "Size of each filter (or pooling window): 5 or (5, 3).",
    "stride": "Steps between two filter positions; 2 halves the size.",
    "padding": "Zeros added around the input; padding = (kernel - 1) / 2 keeps the size.",
    "in_features": "Numbers per input (after Flatten: channels x height x width).",
    "out_features": "Numbers per output (for the last layer: the number of classes).",
    "num_features": "Channels of the input.",
}


def _shape(shape) -> str:
    return " × ".join(str(v) for v in shape)


class LayerCalculator(QWidget):
    """Layer type + arguments + input shape -> output shape, parameters and the working."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.result: LayerCalc | None = None
        self.error: str = ""
        self._fields: dict[str, QLineEdit] = {}
        self._typed: dict[str, dict[str, str]] = {EXAMPLE[0]: dict(EXAMPLE[1])}

        col = QVBoxLayout(self)
        col.setContentsMargins(4, 4, 4, 4)
        col.setSpacing(6)
        top = QGridLayout()
        top.setHorizontalSpacing(8)
        top.addWidget(QLabel("Layer:"), 0, 0)
        self.layer_combo = QComboBox()
        for name in LAYER_TYPES:
            self.layer_combo.addItem(f"nn.{name}", name)
        self.layer_combo.currentIndexChanged.connect(self._on_layer)
        top.addWidget(self.layer_combo, 0, 1)
        top.addWidget(QLabel("Input shape:"), 0, 2)
        self.shape_edit = QLineEdit(EXAMPLE[2])
        self.shape_edit.setToolTip("One input without the batch: channels x height x width (1x28x28), or the "
                                   "number of features for Linear (784).")
        self.shape_edit.setMaximumWidth(140)
        self.shape_edit.textChanged.connect(self.calculate)
        top.addWidget(self.shape_edit, 0, 3)
        self.use_data = QPushButton("Use the loaded data's shape")
        self.use_data.setToolTip("The shape of one input of the data set loaded in the Data tab.")
        self.use_data.hide()
        self._data_shape = ""
        self.use_data.clicked.connect(lambda: self.shape_edit.setText(self._data_shape))
        top.addWidget(self.use_data, 0, 4)
        top.setColumnStretch(5, 1)
        col.addLayout(top)

        body = QHBoxLayout()
        self.args_form = QFormLayout()
        self.args_form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        self.args_form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.FieldsStayAtSizeHint)
        body.addLayout(self.args_form)
        out = QVBoxLayout()
        self.call_label = QLabel()
        self.call_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.call_label.setWordWrap(True)
        self.answer = QLabel()
        font = self.answer.font()
        font.setPointSizeF(font.pointSizeF() * 1.2)
        font.setBold(True)
        self.answer.setFont(font)
        self.answer.setWordWrap(True)
        self.formula = QLabel()
        self.formula.setWordWrap(True)
        self.formula.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.formula.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.formula.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.messages = MessageArea()
        out.addWidget(self.call_label)
        out.addWidget(self.answer)
        out.addWidget(self.messages)
        out.addWidget(self.formula)
        out.addStretch(1)
        body.addSpacing(12)
        body.addLayout(out, 1)
        col.addLayout(body, 1)
        self._on_layer()

    # ------------------------------------------------------------------------------- inputs --
    def layer(self) -> str:
        return str(self.layer_combo.currentData())

    def set_layer(self, layer: str, fields: dict[str, str] | None = None, shape: str | None = None) -> None:
        """Choose a layer type (and fill its arguments and the input shape) as a person would."""
        if fields is not None:
            self._typed[layer] = {k: str(v) for k, v in fields.items()}
        if shape is not None:
            self.shape_edit.blockSignals(True)
            self.shape_edit.setText(shape)
            self.shape_edit.blockSignals(False)
        i = self.layer_combo.findData(layer)
        if i == self.layer_combo.currentIndex():
            self._on_layer()
        else:
            self.layer_combo.setCurrentIndex(i)

    def field(self, name: str) -> QLineEdit:
        return self._fields[name]

    def set_shape_source(self, shape: tuple[int, ...] | None) -> None:
        """Offer 'Use the loaded data's shape' for ``shape`` (None hides the button)."""
        self.use_data.setVisible(shape is not None)
        if shape is not None:
            self._data_shape = "x".join(str(v) for v in shape)
            self.use_data.setToolTip(f"The shape of one input of the loaded data: {self._data_shape}.")

    def _on_layer(self, *_args) -> None:
        layer = self.layer()
        while self.args_form.rowCount():
            self.args_form.removeRow(0)
        self._fields = {}
        typed = self._typed.setdefault(layer, {})
        for name, default in LAYER_TYPES[layer].items():
            edit = QLineEdit(typed.get(name, ""))
            if default is None:
                edit.setPlaceholderText("kernel_size" if name == "stride" else "required")
            else:
                edit.setPlaceholderText(f"default {default}")
            edit.setMaximumWidth(130)
            edit.setToolTip(ARG_TIPS.get(name, ""))
            edit.textChanged.connect(lambda text, n=name, k=layer: self._on_field(k, n, text))
            self.args_form.addRow(name + ":", edit)
            self._fields[name] = edit
        self.calculate()

    def _on_field(self, layer: str, name: str, text: str) -> None:
        self._typed.setdefault(layer, {})[name] = text
        self.calculate()

    # ------------------------------------------------------------------------------- answer --
    def calculate(self, *_args) -> LayerCalc | None:
        fields = {name: edit.text() for name, edit in self._fields.items()}
        try:
            r = calculate_fields(self.layer(), fields, self.shape_edit.text())
        except UserError as exc:
            self.result, self.error = None, str(exc)
            self.messages.show_message(self.error, "error")
            self.answer.setText("")
            self.formula.setText("")
            self.call_label.setText("")
            return None
        self.result, self.error = r, ""
        self.messages.clear()
        self.call_label.setText(f"<code>nn.{r.layer}</code> on an input of {_shape(r.input_shape)}")
        self.answer.setText(f"Output {_shape(r.output_shape)} · {r.params:,} parameters")
        self.formula.setText("\n".join(r.formula))
        return r
