"""Every tab, every page and every fold-out panel of the main window at the two ordinary laptop sizes:
no visible button, combo box, spin box or one-line label is squeezed below what its text needs, and no
two of them overlap (issue 13, items 6-9)."""
import pytest
from PySide6.QtWidgets import QApplication, QStackedWidget, QTabWidget

from app.ui.tabs.keypoints.widgets import FoldHeader

from layout_checks import squeezed


def _settle(qtbot):
    for _ in range(3):
        QApplication.processEvents()
        qtbot.wait(20)


def _views(page, qtbot):
    """Yield a description of each view of a tab a user can reach by clicking: every page of its inner
    page switchers (tab widgets, stacked pages) with every fold-out panel open."""
    for fold in page.findChildren(FoldHeader):
        if fold.isVisibleTo(page) and not fold.isChecked():
            fold.click()
    switchers = [s for s in page.findChildren(QTabWidget) + page.findChildren(QStackedWidget) if s.count() > 1]
    yield "as opened"
    for s in switchers:
        before = s.currentIndex()
        for i in range(s.count()):
            if s.isVisibleTo(page):
                s.setCurrentIndex(i)
                _settle(qtbot)
                yield f"{type(s).__name__} page {i}"
        s.setCurrentIndex(before)


@pytest.mark.parametrize("size", [(1024, 700), (1280, 800)])
def test_every_tab_page_and_panel_fits_at_laptop_sizes(window, qtbot, size):
    window.dismiss_welcome()
    window.resize(*size)
    _settle(qtbot)
    problems = []
    for index in range(window.tabs.count()):
        window.tabs.setCurrentIndex(index)
        page = window.tabs.widget(index)
        _settle(qtbot)
        for view in _views(page, qtbot):
            _settle(qtbot)
            problems += [f"{window.tabs.tabText(index)} ({view}): {p}" for p in squeezed(page)]
    # the window really is the size asked for (no minimum size forcing it wider than the screen)
    assert window.width() <= size[0] and window.height() <= size[1], window.size()
    assert problems == []


def test_the_layout_check_sees_a_squeezed_button(qtbot):
    """The check itself: a button narrower than its text is reported."""
    from PySide6.QtWidgets import QPushButton, QWidget

    root = QWidget()
    qtbot.addWidget(root)
    b = QPushButton("Continue training for 3 more epochs", root)
    b.setGeometry(0, 0, 40, 30)
    root.show()
    assert any("Continue training" in p for p in squeezed(root))
    b.setGeometry(0, 0, b.minimumSizeHint().width() + 10, 30)
    assert squeezed(root) == []
