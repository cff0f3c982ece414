"""The Data tab's link to the data-set maker (issue 18): the "New data set…" / "Add pictures to this data set…"
row, opening the maker on a new or existing class folder, and loading what it made with the model and picture
size suggested for a person's own pictures. A mixin of ``DataTab`` (it uses the tab's ``state``, ``messages``,
``chosen_folder``, ``_set_size`` and ``open_folder``)."""
from __future__ import annotations

from PySide6.QtWidgets import QGridLayout, QHBoxLayout, QLabel, QPushButton

from app.core.errors import UserError
from app.data.folder import WrongLevel


class DatasetMakerLink:
    """The data-set maker, reached from the Data tab."""

    def _build_maker_row(self, grid: QGridLayout, row: int) -> None:
        line = QHBoxLayout()
        line.setContentsMargins(0, 0, 0, 0)
        self.new_set_button = QPushButton("New data set…")
        self.new_set_button.setToolTip("Make your own data set: name some classes and take their pictures with the "
                                       "webcam, or add picture files.")
        self.new_set_button.clicked.connect(lambda: self.new_dataset())
        self.edit_set_button = QPushButton("Add pictures to this data set…")
        self.edit_set_button.setToolTip("Open the image folder chosen above in the data-set maker: add, rename or "
                                        "delete classes and pictures.")
        self.edit_set_button.clicked.connect(lambda: self.edit_dataset())
        line.addWidget(self.new_set_button)
        line.addWidget(self.edit_set_button)
        hint = QLabel("Make your own: webcam pictures, files, drag and drop or paste.")
        hint.setStyleSheet("color: #666666;")
        line.addWidget(hint, 1)
        grid.addWidget(QLabel("Your own:"), row, 0)
        grid.addLayout(line, row, 1, 1, 2)
        self.maker_dialog = None

    def new_dataset(self, name: str | None = None) -> None:
        """Ask for a name, create the folder under the user's data sets and open the maker on it."""
        from PySide6.QtWidgets import QInputDialog

        from app.data.userset import UserSet, user_sets_dir

        if name is None:
            name, ok = QInputDialog.getText(self, "New data set", f"Name of the new data set (kept in "
                                            f"{user_sets_dir()}):")
            if not ok:
                return
        try:
            made = UserSet.create(name)
        except UserError as exc:
            self.messages.show_message(str(exc), "error")
            return
        self._open_maker(made)

    def edit_dataset(self, path=None) -> None:
        """Open an existing class folder (the one chosen above by default) in the maker."""
        from app.data.userset import UserSet

        text = str(path) if path else self.chosen_folder()
        if not text:
            self.messages.show_message("Choose your image folder above first (My own image folder, Browse…), or "
                                       "make a new data set.", "warn")
            return
        try:
            self._open_maker(UserSet.open(text))
        except WrongLevel as exc:          # one level off: offer the folder that holds the classes
            self.messages.show_message(str(exc), "warn", fix=(f"Open “{exc.suggestion.name}”",
                                                              lambda p=exc.suggestion: self.edit_dataset(p)))
        except UserError as exc:
            self.messages.show_message(str(exc), "error")

    def _open_maker(self, userset) -> None:
        from app.ui.tabs.dataset_maker import DatasetMakerDialog

        if self.maker_dialog is not None:
            self.maker_dialog.close()
        dialog = self.maker_dialog = DatasetMakerDialog(self.state, userset, self)
        dialog.maker.use_requested.connect(self.use_made_set)
        dialog.show()

    def use_made_set(self, path) -> None:
        """Load a data set from the maker at the size, and with the model, suggested for a person's own pictures
        (``models.suggest``: camera frames are far larger than a small model's input)."""
        from app.models.suggest import model_for_own_pictures

        name, options, side = model_for_own_pictures()
        self._set_size(side)
        if self.state.model_name != name:
            self.state.set_model(name, options)
            self._maker_note = f"The model is now {name}, the one suggested for your own pictures (the Model tab " \
                               f"has the others)."
        self.open_folder(path)


__all__ = ["DatasetMakerLink"]
