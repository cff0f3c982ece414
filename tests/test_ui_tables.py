"""Tables (CSV files) through the GUI: the Data tab's preview and target picker, training a table model from
the Train tab, typing a row into Try it; generated CSVs only (no files from ../shared)."""
from __future__ import annotations

import json
import random

import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QComboBox, QFileDialog, QLineEdit

from app.data.table import TableDataset
from app.ui.state import AppState
from app.ui.tabs.data_tab import DataTab

TIMEOUT = 15_000


def write_people(path, n: int = 120, seed: int = 0):
    """A messy Titanic-like table: an id, quoted names with commas, a category with blanks, numbers with
    blanks, a constant column and the target 'Survived' (not the last column)."""
    rng = random.Random(seed)
    lines = ["PassengerId,Survived,Pclass,Name,Sex,Age,Fare,Ship"]
    for i in range(n):
        sex = rng.choice(["male", "female"])
        pclass = rng.choice([1, 2, 3])
        age = "" if i % 7 == 0 else f"{rng.uniform(1, 70):.1f}"
        fare = f"{rng.uniform(5, 100) * (4 - pclass):.2f}"
        survived = int(sex == "female" or (pclass == 1 and rng.random() < 0.6))
        lines.append(f'{i + 1},{survived},{pclass},"Person{i}, Mr. {chr(65 + i % 26)}",{sex if i % 11 else ""},'
                     f"{age},{fare},Titanic")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def settings(tmp_path):
    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)


@pytest.fixture
def make_data_tab(qtbot, settings):
    tabs = []

    def make(state=None):
        state = state or AppState(settings)
        tab = DataTab(state)
        qtbot.addWidget(tab)
        tab.resize(1100, 720)
        tab.show()
        tabs.append(tab)
        return tab

    yield make
    for tab in tabs:
        tab.shutdown()


def wait_idle(qtbot, tab):
    qtbot.waitUntil(lambda: not tab.is_busy() and tab._job_id is None, timeout=TIMEOUT)


def open_csv_by_browse(qtbot, tab, monkeypatch, path):
    """What a person does: choose 'My own table' in the list, press Browse…, pick the file."""
    monkeypatch.setattr(QFileDialog, "getOpenFileName", staticmethod(lambda *a, **k: (str(path), "")))
    tab.source_combo.setCurrentIndex(tab.source_combo.findData("csv"))
    qtbot.mouseClick(tab.browse_button, Qt.MouseButton.LeftButton)
    wait_idle(qtbot, tab)


def choose_target(qtbot, tab, name):
    combo = tab.preview.target_combo
    i = combo.findData(name)
    assert i >= 0, name
    combo.setCurrentIndex(i)
    combo.activated.emit(i)           # what a click on the item sends
    wait_idle(qtbot, tab)


def summary_rows(tab) -> dict[str, list[str]]:
    t = tab.preview.summary
    return {t.item(r, 0).text(): [t.item(r, k).text() for k in range(t.columnCount())] for r in range(t.rowCount())}


def test_csv_preview_summaries_and_target_picker(make_data_tab, qtbot, monkeypatch, tmp_path):
    path = write_people(tmp_path / "people.csv")
    tab = make_data_tab()
    wait_idle(qtbot, tab)
    open_csv_by_browse(qtbot, tab, monkeypatch, path)
    ds = tab.state.dataset
    assert isinstance(ds, TableDataset) and ds.target == "Survived"
    assert tab.state.dataset_spec["data"] == "csv" and tab.state.dataset_spec["target"] == "Survived"
    assert tab.views.currentWidget() is tab.preview and tab.preview.isVisible()
    combo = tab.preview.target_combo
    assert combo.currentData() == "Survived" and "(suggested)" in combo.currentText()
    rows = summary_rows(tab)
    assert rows["Name"][1] == "free text, dropped" and rows["Name"][3] == "120 different, e.g. Person0, Mr. A"
    assert rows["Sex"][1] == "category" and rows["Sex"][2] == f"{sum(1 for i in range(120) if i % 11 == 0)} filled"
    assert rows["Age"][1] == "number" and rows["Age"][2] == f"{sum(1 for i in range(120) if i % 7 == 0)} filled"
    assert rows["Ship"][1] == "dropped" and rows["PassengerId"][1] == "dropped"
    assert rows["Survived"][1] == "to predict"
    assert tab.preview.rows.rowCount() == 20 and tab.preview.rows.columnCount() == 8
    assert tab.preview.rows.item(0, 3).text() == "Person0, Mr. A"       # the quoted comma stays in the cell
    text = tab.messages.text
    assert "Dropped free-text column(s) Name" in text and "Filled" in text and "Ship" in text
    assert [lv for lv, _ in tab.messages.messages()][:2] == ["ok", "warn"]

    choose_target(qtbot, tab, "Pclass")
    assert tab.state.dataset.target == "Pclass" and tab.state.dataset.classes == ["1", "2", "3"]
    assert summary_rows(tab)["Survived"][1] == "number"
    assert "(suggested)" in combo.itemText(combo.findData("Survived"))
    # a column that cannot be predicted: the loader's message, the table in use stays
    choose_target(qtbot, tab, "Fare")
    assert tab.messages.messages()[0][0] == "error" and "different values" in tab.messages.text
    assert "Still using the table" in tab.messages.text
    assert tab.state.dataset.target == "Pclass" and combo.currentData() == "Pclass"

    # the second step: the next start restores the same file and target
    tab.shutdown()
    again = make_data_tab(AppState(tab.settings))
    wait_idle(qtbot, again)
    assert isinstance(again.state.dataset, TableDataset) and again.state.dataset.target == "Pclass"
    assert again.current_source() == "csv" and again.views.currentWidget() is again.preview


BAD_CSVS = {
    "no rows": (b"", "empty"),
    "header only": (b"a,b,c\n", "no rows of data"),
    "one column": (b"x\n1\n2\n3\n4\n", "only one column"),
    # the suggestion avoids a one-valued column: the person picks it (below)
    "one-valued target": (b"a,b,label\n1,x,yes\n2,y,yes\n1,x,yes\n2,y,yes\n1,y,yes\n", "only one value"),
    "500-valued target": (("a,b,label\n" + "".join(f"{i % 3},{i % 5},{i}\n" for i in range(500))).encode(),
                          "500 different values"),
    # the suggested column b has a value in 2 rows only: the file's columns are offered to choose another
    "target nearly blank": (b"a,b\n1,\n2,\n3,\n1,\n2,x\n3,y\n", "only 2 rows with a target value"),
    "ragged rows": (b"a,b,label\n1,2,x\n3,4\n5,6,y\n", "row 3 has 2 cells"),
    "binary junk": (bytes(range(256)) * 40, "binary data"),
    "not utf-8": ("name,label\ncafé,1\nthé,0\nbière,1\neau,0\n".encode("cp1252"), "not UTF-8"),
}


@pytest.mark.parametrize("case", list(BAD_CSVS))
def test_bad_csv_files_get_the_loaders_plain_message(make_data_tab, qtbot, monkeypatch, tmp_path, case):
    content, words = BAD_CSVS[case]
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    tab = make_data_tab()
    wait_idle(qtbot, tab)
    before = tab.state.dataset
    open_csv_by_browse(qtbot, tab, monkeypatch, path)
    if case in ("one-valued target", "500-valued target"):
        assert tab.state.dataset.target == "b" and "label" not in tab.preview.target_combo.currentText()
        before = tab.state.dataset
        choose_target(qtbot, tab, "label")
    assert tab.messages.messages()[0][0] == "error"
    text = tab.messages.text
    assert words in text and "Traceback" not in text and "Copy details" not in [
        b.text() for b in tab.messages.findChildren(type(tab.browse_button)) if b.isVisible()]
    assert "Still using" in text and tab.state.dataset is before
    if case == "target nearly blank":     # readable: the columns are offered to choose another target
        assert tab.views.currentWidget() is tab.preview and tab.preview.target_combo.currentData() == "b"
        assert tab.preview.target_combo.count() == 2 and tab.preview.rows.rowCount() == 6
        choose_target(qtbot, tab, "a")
        assert isinstance(tab.state.dataset, TableDataset) and tab.state.dataset.target == "a"
        assert tab.messages.messages()[0][0] == "ok"


def layer_types(model_tab) -> list[str]:
    """The 'type' column of the Model tab's layer table, as shown."""
    m = model_tab.table.layer_model
    return [m.data(m.index(r, 1)) for r in range(m.rowCount())]


def test_table_flows_to_model_train_and_try_it(qtbot, settings, monkeypatch, tmp_path):
    """Load a CSV in the Data tab -> the Model tab offers table models (mlp with tanh from its drop-down)
    -> the Train tab trains it -> config.json records the target and the layer choice -> Try it takes a
    typed row, and a past run reopened later still offers the form."""
    from app.engine.tabular import load_table_model, predict_row
    from app.ui.tabs.model_tab import ModelTab
    from app.ui.tabs.train import TrainTab

    monkeypatch.setenv("VISIONDESK_HOME", str(tmp_path / "home"))
    path = write_people(tmp_path / "people.csv", n=160)
    state = AppState(settings)
    state.set_model("cnn4")
    data = DataTab(state)
    model = ModelTab(state)
    train = TrainTab(state)
    for w in (data, model, train):
        qtbot.addWidget(w)
        w.resize(1100, 720)
    try:
        wait_idle(qtbot, data)
        open_csv_by_browse(qtbot, data, monkeypatch, path)
        assert isinstance(state.dataset, TableDataset)
        # the picture model gave way to logistic regression, and picture models are greyed out
        assert state.model_name == "logistic" and "logistic regression" in model.messages.text
        assert model.model_list.problem("cnn4") and not model.model_list.problem("mlp")
        assert "numbers per row" in model.data_label.text()
        assert model.select_model("mlp")
        act = model._option_widgets["activation"]
        assert isinstance(act, QComboBox) and act.currentText() == "ReLU"
        act.setCurrentIndex(act.findData("tanh"))
        assert state.model_options.get("activation") == "tanh"
        qtbot.waitUntil(lambda: "Tanh" in layer_types(model), timeout=TIMEOUT)
        assert "ReLU" not in layer_types(model)
        assert "table people.csv" in train.settings_page.summary.text()

        train.set_values({"epochs": 3, "device": "cpu", "batch_size": 32})
        qtbot.mouseClick(train.start_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: train.last_result is not None and not train.runner.is_running(), timeout=30_000)
        run = train.run_dir
        cfg = json.loads((run / "config.json").read_text())
        assert cfg["data"] == "csv" and cfg["data_root"] == str(path) and cfg["model"] == "mlp"
        assert cfg["extra"]["target"] == "Survived" and cfg["model_options"]["activation"] == "tanh"
        assert cfg["augment"] is False
        line = train.copy_command()          # the same run without the window
        assert f"--data csv --data-root {path} --target Survived --model mlp" in line and "--no-augment" in line
        assert (run / "curves.png").stat().st_size > 0
        train.views.setCurrentWidget(train.results)          # the Results page of a table run: no pictures
        m = train.results.confusion.matrix
        assert m.shape == (2, 2) and int(m.sum()) == len(state.dataset.test)
        assert not train.results.gallery_box.isVisibleTo(train.results)

        page = train.try_page
        qtbot.waitUntil(lambda: bool(page.row_form.fields), timeout=TIMEOUT)
        assert page.row_form.isVisibleTo(page) and not page.image.isVisibleTo(page)
        form = page.row_form
        assert set(form.fields) == {"Pclass", "Sex", "Age", "Fare"}
        sex = form.fields["Sex"]
        assert isinstance(sex, QComboBox) and [sex.itemText(i) for i in range(sex.count())] == ["female", "male"]
        assert isinstance(form.fields["Age"], QLineEdit)
        form.set_row({"Pclass": "1", "Sex": "female", "Age": "30", "Fare": "80"})
        qtbot.mouseClick(form.predict_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: bool(form.last), timeout=TIMEOUT)
        expected = predict_row(load_table_model(run), form.row())
        assert [c for c, _ in form.last] == [c for c, _ in expected]
        assert abs(sum(p for _, p in form.last) - 1) < 1e-5 and page.bars.rows[0][0] == form.last[0][0]
        assert "the model says" in page.truth.text()
        # text in a number column: the engine's plain message, nothing crashes
        form.fields["Age"].setText("thirty")
        qtbot.mouseClick(form.predict_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: "Age must be a number" in train.message.text, timeout=TIMEOUT)
        # a row of the file, with its true class
        form.fields["Age"].setText("")
        qtbot.mouseClick(form.example_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: "The file says" in page.truth.text(), timeout=TIMEOUT)

        # the second step: the run reopened in a fresh Train tab offers the same form
        other = TrainTab(AppState(settings))
        qtbot.addWidget(other)
        other.open_run(run)
        qtbot.waitUntil(lambda: bool(other.try_page.row_form.fields), timeout=TIMEOUT)
        assert set(other.try_page.row_form.fields) == set(form.fields)
        qtbot.waitUntil(lambda: other.results.confusion.matrix.size > 0, timeout=TIMEOUT)   # its results too
        assert int(other.results.confusion.matrix.sum()) == len(state.dataset.test)
        assert other.message.level == "ok"
        other.shutdown() if hasattr(other, "shutdown") else None
    finally:
        for w in (data, model, train):
            w.shutdown()


@pytest.mark.parametrize("window", [(1024, 700), (1920, 1080)])
def test_table_preview_model_calculator_and_basics_presets_are_not_cut(qtbot, settings, monkeypatch, tmp_path, window):
    from layout_checks import squeezed, tab_area

    from app.ui.tabs.basics import BasicsTab
    from app.ui.tabs.model_tab import ModelTab

    w, h = tab_area(*window)
    state = AppState(settings)
    data = DataTab(state)
    model = ModelTab(state)
    basics = BasicsTab(state)
    try:
        for tab in (data, model, basics):
            qtbot.addWidget(tab)
            tab.resize(w, h)
            tab.show()
        wait_idle(qtbot, data)
        open_csv_by_browse(qtbot, data, monkeypatch, write_people(tmp_path / "people.csv"))
        model.lower_tabs.setCurrentWidget(model.calculator)
        qtbot.wait(30)
        assert squeezed(data) == [] and squeezed(model) == [] and squeezed(basics) == []
        assert data.preview.rows.viewport().height() >= 3 * data.preview.rows.rowHeight(0)
        # the Basics controls (with the preset buttons) fit their column: nothing scrolls sideways
        from PySide6.QtWidgets import QScrollArea

        column = basics.findChildren(QScrollArea)[0]
        assert column.widget().width() <= column.viewport().width()
        assert basics.preset_nan_button.isVisibleTo(basics)
    finally:
        for tab in (data, model, basics):
            tab.shutdown()


def test_a_loaded_table_is_not_offered_to_the_gan(qtbot, settings, tmp_path):
    from app.data.table import load_csv
    from app.ui.tabs.gan.settings import STATE, GanSettings
    from helpers import tiny_dataset

    state = AppState(settings)
    gan = GanSettings(state)
    qtbot.addWidget(gan)
    state.set_dataset(tiny_dataset(), {"data": "tiny"})
    assert gan.data_choice.findData(STATE) == 0
    state.set_dataset(load_csv(write_people(tmp_path / "people.csv")), {"data": "csv"})
    assert gan.data_choice.findData(STATE) == -1 and gan.dataset() is None
