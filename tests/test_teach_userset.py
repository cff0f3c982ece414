"""Issue 18, below the data-set maker: a user-made data set is an ordinary class-folder tree the loader and the CLI
train on; classes and pictures are added, renamed, reordered, deleted and the last delete undone. And a folder picked
one level off is recognised, with the right level offered."""
import pytest
from PIL import Image

from app.cli import main
from app.core.errors import DataError
from app.data import load_dataset
from app.data.folder import WrongLevel, check_level
from app.data.userset import TRASH_NAME, UserSet, user_sets_dir

from teach_helpers import colour_picture, write_colour_folder


def test_make_a_set_then_train_on_it_with_the_cli(tmp_path):
    s = UserSet.create("My things")
    assert s.root == user_sets_dir() / "My things"
    for name in ("red", "green"):
        s.add_class(name)
        for i in range(6):
            s.add_picture(name, colour_picture(name, seed=i, size=20))
    assert s.counts() == {"red": 6, "green": 6}
    assert s.classes() == ["red", "green"]                        # the person's order, not the alphabet
    ds = load_dataset("folder", str(s.root))
    assert sorted(ds.classes) == ["green", "red"] and len(ds.train) + len(ds.test) == 12
    assert main(["train", "--data", "folder", "--data-root", str(s.root), "--model", "softmax", "--epochs", "1",
                 "--device", "cpu", "--out", str(tmp_path / "run"), "--quiet"]) == 0
    # reopening finds the same classes and order
    assert UserSet.open(s.root).classes() == ["red", "green"]


def test_rename_reorder_delete_and_undo(tmp_path):
    s = UserSet.create("set", parent=tmp_path, classes=["a", "b", "c"])
    pics = [s.add_picture("a", colour_picture("red", seed=i, size=16)) for i in range(3)]
    assert s.rename_class("a", "apples") == "apples" and s.classes() == ["apples", "b", "c"]
    assert s.rename_class("apples", "Apples") == "Apples"             # a change of case only
    assert s.move_class("c", 0) == ["c", "Apples", "b"]
    with pytest.raises(DataError, match="already a class"):
        s.rename_class("b", "apples")
    for bad in ("", "x/y", ".hidden", "a" * 200, "con"):
        with pytest.raises(DataError):
            s.add_class(bad)

    apples = s.pictures("Apples")
    s.delete_pictures("Apples", apples[:2])
    assert len(s.pictures("Apples")) == 1 and s.can_undo()
    assert "2 pictures" in s.undo()
    assert sorted(p.name for p in s.pictures("Apples")) == sorted(p.name for p in pics)
    assert not (s.root / TRASH_NAME).exists() and not s.can_undo()

    s.delete_class("Apples")
    assert s.classes() == ["c", "b"] and not (s.root / "Apples").exists()
    s.delete_pictures("b", [])                                       # a second delete: the first is gone for good
    with pytest.raises(DataError):
        s.delete_pictures("c", [tmp_path / "elsewhere.jpg"])
    s.delete_class("b")
    assert "“b”" in s.undo() and s.classes() == ["c", "b"]
    with pytest.raises(DataError, match="nothing to undo"):
        s.undo()


def test_add_files_keeps_the_pictures_and_lists_what_it_skipped(tmp_path):
    s = UserSet.create("files", parent=tmp_path, classes=["x"])
    Image.fromarray(colour_picture("blue", size=30)).convert("RGBA").save(tmp_path / "ok.png")
    (tmp_path / "notes.txt").write_text("not a picture")
    added, skipped = s.add_files("x", [tmp_path / "ok.png", tmp_path / "notes.txt", tmp_path / "gone.jpg"])
    assert len(added) == 1 and added[0].suffix == ".jpg" and Image.open(added[0]).mode == "RGB"
    assert [k.split(":")[0] for k in skipped] == ["notes.txt", "gone.jpg"]
    with pytest.raises(DataError, match="already a data set"):
        UserSet.create("files", parent=tmp_path)


@pytest.mark.parametrize("layout, expect", [
    ("wrapper", "wrapper/inner"),          # root/inner/{red,green,blue}
    ("sets", "sets/a"),                     # root/{a,b}/{train,test}/...
    ("same", "same/first"),                 # root/{first,second}/{red,green,blue}
    ("class", "class"),                     # a class folder picked instead of the set
])
def test_wrong_level_is_detected_and_the_right_level_offered(tmp_path, layout, expect, capsys):
    if layout == "wrapper":
        root = tmp_path / "wrapper"
        write_colour_folder(root / "inner", per_class=3)
    elif layout == "sets":
        root = tmp_path / "sets"
        for name in ("a", "b"):
            for split in ("train", "test"):
                write_colour_folder(root / name / split, per_class=2)
    elif layout == "same":
        root = tmp_path / "same"
        write_colour_folder(root / "first", per_class=2)
        write_colour_folder(root / "second", per_class=2)
    else:
        write_colour_folder(tmp_path / "class", per_class=3)
        root = tmp_path / "class" / "red"
    with pytest.raises(WrongLevel) as caught:
        load_dataset("folder", str(root))
    assert caught.value.suggestion == (tmp_path / expect).resolve()
    assert load_dataset("folder", str(caught.value.suggestion)).num_classes == 3   # the offer is right
    # the command line says it in one line
    assert main(["train", "--data", "folder", "--data-root", str(root), "--model", "softmax", "--epochs", "1"]) == 2
    err = capsys.readouterr().err
    assert "not the folder of classes" in err or "one class folder" in err
    assert err.count("\n") == 1


def test_right_levels_are_left_alone(tmp_path):
    write_colour_folder(tmp_path / "plain", per_class=2)
    for split in ("train", "test"):
        write_colour_folder(tmp_path / "split" / split, per_class=2)
    check_level(tmp_path / "plain")
    check_level(tmp_path / "split")
    check_level(tmp_path / "split" / "train")
