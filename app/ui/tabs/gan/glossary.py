"""Plain explanations of the GAN words the tab shows (issue 13 item 15): each goes in the tooltip of every
widget that shows the word (``explain``), so a person who does not know it can hover and read."""
from __future__ import annotations

from PySide6.QtWidgets import QFormLayout, QWidget

GLOSSARY = {
    "FD": "FD — Fréchet distance: how far the generated pictures are from real ones, as a classifier sees them; "
          "lower is better.",
    "D(x)": "D(x) — how sure the discriminator (the judge network) is, on average, that the real pictures are "
            "real: 1 means sure.",
    "D(G(z))": "D(G(z)) — how sure the discriminator is that the generated pictures are real; the generator "
               "learns by pushing it up.",
    "latent size": "latent size — how many random numbers the generator turns into one picture; every new set of "
                   "numbers gives a new picture.",
    "slerp": "slerp — spherical interpolation: walks from A to B along a curve rather than a straight line, so "
             "the pictures in between stay as sharp as A and B.",
    "momentum": "momentum — how much each training step keeps going the way the previous steps went; GANs "
                "train more steadily with less of it.",
}


def explain(widget: QWidget, *terms: str, form: QFormLayout | None = None) -> None:
    """Add the explanations of ``terms`` to ``widget``'s tooltip (and to its label in ``form``)."""
    text = "\n".join(GLOSSARY[t] for t in terms)
    targets = [widget]
    if form is not None and form.labelForField(widget) is not None:
        targets.append(form.labelForField(widget))
    for w in targets:
        tip = w.toolTip()
        w.setToolTip(f"{tip}\n\n{text}" if tip else text)


__all__ = ["GLOSSARY", "explain"]
