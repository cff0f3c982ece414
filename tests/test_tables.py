"""Tables (CSV files): the loader on good and bad files, logistic and mlp trained through the CLI,
and one typed row tried on the trained model."""
import gzip
import json
import random

import pytest
import torch

from app.cli import main
from app.core.errors import DataError
from app.data import load_dataset
from app.data.table import load_csv, read_csv, suggest_target
from app.engine.runs import read_metrics
from app.engine.tabular import load_table_model, predict_row

CITIES = ["Paris, France", "Lyon, France", "Rome, Italy"]


def write_people(path, n=160, seed=0, rule="xor"):
    """A messy table: a row number, free-text names, quoted commas, blanks, a constant column and a
    yes/no target that follows a rule: "age" (over 50) or "xor" (over 50 for men, 50 or under for women)."""
    rng = random.Random(seed)
    lines = ["id,name,sex,age,city,country code,score,label"]
    for i in range(n):
        sex = rng.choice(["f", "m"])
        age = rng.randint(18, 80)
        city = rng.choice(CITIES)
        score = round(rng.gauss(0, 1), 3)
        label = "yes" if (age > 50) != (sex == "f" and rule == "xor") else "no"
        age_text = "" if i % 10 == 3 else str(age)          # 16 blank ages
        city_text = "" if i == 5 else f'"{city}"'           # one blank city, the others quoted with a comma
        lines.append(f'{i + 1},"Person {i}, the {rng.randint(1, 10**6)}th",{sex},{age_text},{city_text},FR,{score},{label}')
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def people(tmp_path):
    return write_people(tmp_path / "people.csv")


# ---------------------------------------------------------------------------------------------- loader
def test_loader_encodes_a_messy_table(people):
    ds = load_csv(people, "label", seed=3)
    assert ds.target == "label" and ds.classes == ["no", "yes"]
    assert len(ds.train) + len(ds.test) == 160 and len(ds.test) == 32
    # age and score standardised, sex and city one-hot; id, name and country code dropped
    assert ds.encoder.feature_names == ["sex=f", "sex=m", "age", "city=Lyon, France", "city=Paris, France",
                                        "city=Rome, Italy", "score"]
    notes = " ".join(ds.notes)
    assert "name" in notes and "free-text" in notes
    assert "country code" in notes and "same value in every row" in notes
    assert "id" in notes and "number the rows" in notes
    assert "Filled 17 blank cell(s)" in notes and "16 in age" in notes and "1 in city" in notes
    kinds = {c.name: c.kind for c in ds.columns}
    assert kinds == {"id": "dropped", "name": "dropped", "sex": "category", "age": "number", "city": "category",
                     "country code": "dropped", "score": "number", "label": "target"}
    age = next(c for c in ds.columns if c.name == "age")
    assert age.blanks == 16 and 18 <= age.minimum <= age.mean <= age.maximum <= 80
    # standardised with the train split's statistics only
    j = ds.encoder.feature_names.index("age")
    train_age = ds.train.features[:, j]
    assert abs(float(train_age.mean())) < 1e-5 and abs(float(train_age.std(unbiased=False)) - 1) < 1e-4
    assert abs(float(ds.test.features[:, j].mean())) > 1e-4
    # one-hot rows hold exactly one 1 per category column
    assert torch.equal(ds.train.features[:, 0] + ds.train.features[:, 1], torch.ones(len(ds.train)))
    assert len(ds.preview) == 20 and ds.header[4] == "city" and ds.preview[0][4] in CITIES


def test_split_is_seeded_and_stratified(people):
    a, b, c = load_csv(people, "label", seed=1), load_csv(people, "label", seed=1), load_csv(people, "label", seed=2)
    assert torch.equal(a.train.features, b.train.features) and torch.equal(a.test.labels, b.test.labels)
    assert not torch.equal(a.test.features, c.test.features)
    share = float(a.test.labels.float().mean())
    assert abs(share - float(a.train.labels.float().mean())) < 0.05


def test_target_suggestion_and_a_file_without_header(tmp_path, people):
    header, rows, has_header = read_csv(people)
    assert has_header and suggest_target(header, rows) == "label"
    # numbers only, gzip, no header: the last column is the label (as the diabetes file)
    g = torch.Generator().manual_seed(0)
    x = torch.rand(120, 3, generator=g) * 2 - 1
    y = (x[:, 0] + x[:, 1] > 0).long()
    text = "\n".join(",".join(f"{v:.4f}" for v in row) + f",{int(t)}" for row, t in zip(x.tolist(), y.tolist()))
    path = tmp_path / "numbers.csv.gz"
    path.write_bytes(gzip.compress(text.encode()))
    ds = load_dataset("csv", path)
    assert not ds.has_header and ds.target == "column 4" and ds.num_features == 3 and ds.classes == ["0", "1"]
    assert ds.header == ["column 1", "column 2", "column 3", "column 4"]


def _bad_files(tmp_path):
    files = {}
    files["empty"] = tmp_path / "empty.csv"
    files["empty"].write_text("")
    files["header only"] = tmp_path / "header.csv"
    files["header only"].write_text("a,b,label\n")
    files["one column"] = tmp_path / "one.csv"
    files["one column"].write_text("label\nyes\nno\nyes\n")
    files["one class"] = tmp_path / "oneclass.csv"
    files["one class"].write_text("a,label\n" + "".join(f"{i},yes\n" for i in range(20)))
    files["500 classes"] = tmp_path / "many.csv"
    files["500 classes"].write_text("a,label\n" + "".join(f"{i % 7},{i}\n" for i in range(500)))
    files["ragged"] = tmp_path / "ragged.csv"
    files["ragged"].write_text("a,b,label\n1,2,yes\n3,4,no\n5,Paris, France,yes\n")
    files["binary"] = tmp_path / "junk.csv"
    files["binary"].write_bytes(bytes(range(256)) * 40)
    files["latin-1"] = tmp_path / "latin.csv"
    files["latin-1"].write_bytes("name,city,label\nAnn,Zürich,yes\nBo,Genève,no\n".encode("latin-1"))
    return files


BAD = {"empty": "empty", "header only": "no rows", "one column": "only one column",
       "one class": "only one value", "500 classes": "500 different values", "ragged": "row 4 has 4 cells",
       "binary": "binary data", "latin-1": "not UTF-8"}


@pytest.mark.parametrize("which", list(BAD))
def test_bad_csv_is_a_plain_message(tmp_path, which):
    path = _bad_files(tmp_path)[which]
    with pytest.raises(DataError, match=BAD[which]):
        load_csv(path, "label")


@pytest.mark.parametrize("which", list(BAD))
def test_bad_csv_through_the_cli_exits_2_without_traceback(tmp_path, which, capsys):
    path = _bad_files(tmp_path)[which]
    rc = main(["train", "--data", "csv", "--data-root", str(path), "--target", "label", "--model", "logistic",
               "--epochs", "1", "--device", "cpu", "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert rc == 2
    assert BAD[which] in err and "Traceback" not in err and err.count("\n") == 1


def test_unknown_target_column_names_the_columns(people, capsys, tmp_path):
    rc = main(["train", "--data", "csv", "--data-root", str(people), "--target", "survived", "--model", "logistic",
               "--device", "cpu", "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert rc == 2 and "no column 'survived'" in err and "age" in err


# ---------------------------------------------------------------------------------------------- training
def test_logistic_trains_through_the_cli_and_tries_a_row(tmp_path, capsys):
    people = write_people(tmp_path / "age.csv", n=300, rule="age")
    out = tmp_path / "logistic"
    rc = main(["train", "--data", "csv", "--data-root", str(people), "--target", "label", "--model", "logistic",
               "--epochs", "40", "--device", "cpu", "--seed", "0", "--out", str(out), "--quiet"])
    assert rc == 0, capsys.readouterr().err
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["data"] == "csv" and cfg["extra"]["target"] == "label" and cfg["model"] == "logistic"
    rows = read_metrics(out)
    assert len(rows) == 40 and rows[-1]["train_loss"] < rows[0]["train_loss"] and rows[-1]["test_acc"] >= 0.85
    model = load_table_model(out)
    # two classes: one linear layer, then a sigmoid
    assert model.model.output_kind == "binary-prob"
    assert [type(m).__name__ for m in model.model.modules()][-2:] == ["Linear", "Sigmoid"]
    assert model.inputs == ["sex", "age", "city", "score"] and model.classes == ["no", "yes"]
    p = predict_row(model, {"sex": "m", "age": "75", "city": "Rome, Italy", "score": "0.1"})
    assert p[0][0] == "yes" and p[0][1] > 0.7 and abs(sum(v for _, v in p) - 1) < 1e-5
    assert predict_row(model, {"sex": "f", "age": "20", "city": "Paris, France", "score": "0"})[0][0] == "no"
    blanks = predict_row(model, {"sex": "f"})          # missing cells are filled as in training
    assert len(blanks) == 2
    with pytest.raises(DataError, match="age must be a number"):
        predict_row(model, {"age": "old"})
    capsys.readouterr()
    assert main(["evaluate", str(out), "--json"]) == 0           # best.pt on the same seeded test split
    res = json.loads(capsys.readouterr().out)
    assert res["n"] == 60 and res["accuracy"] == pytest.approx(max(r["test_acc"] for r in rows), abs=1e-6)
    assert main(["train", "--data", "csv", "--data-root", str(people), "--model", "cnn4", "--device", "cpu",
                 "--out", str(tmp_path / "cnn4")]) == 2
    assert "made for images" in capsys.readouterr().err


def test_mlp_learns_the_rule_through_the_cli(tmp_path, capsys):
    path = write_people(tmp_path / "big.csv", n=600, seed=1)
    out = tmp_path / "mlp"
    rc = main(["train", "--data", "csv", "--data-root", str(path), "--target", "label", "--model", "mlp",
               "--option", "hidden=32,16", "--option", "activation=tanh", "--epochs", "60", "--batch-size", "32",
               "--lr", "0.05", "--device", "cpu", "--out", str(out), "--quiet"])
    assert rc == 0, capsys.readouterr().err
    best = max(r["test_acc"] for r in read_metrics(out))
    assert best >= 0.9          # the rule (age > 50 xor woman) needs a hidden layer; logistic cannot learn xor
    model = load_table_model(out)
    young_man = dict(predict_row(model, {"sex": "m", "age": "25", "city": "Lyon, France", "score": "0"}))
    old_man = dict(predict_row(model, {"sex": "m", "age": "70", "city": "Lyon, France", "score": "0"}))
    assert young_man["no"] > 0.5 and old_man["yes"] > 0.5


def test_logistic_with_three_classes_uses_softmax(tmp_path, capsys):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(240, 2, generator=g)
    y = torch.where(x[:, 0] > 0.5, 2, torch.where(x[:, 0] < -0.5, 0, 1))
    names = ["low", "mid", "high"]
    path = tmp_path / "three.csv"
    path.write_text("a,b,kind\n" + "".join(f"{a:.3f},{b:.3f},{names[int(t)]}\n" for (a, b), t in zip(x.tolist(), y.tolist())))
    out = tmp_path / "three"
    assert main(["train", "--data", "csv", "--data-root", str(path), "--target", "kind", "--model", "logistic",
                 "--epochs", "30", "--device", "cpu", "--out", str(out), "--quiet"]) == 0
    model = load_table_model(out)
    assert model.model.output_kind == "logits" and model.model.classifier_head.out_features == 3
    assert sorted(model.classes) == sorted(names)
    assert read_metrics(out)[-1]["test_acc"] > 0.8
