"""The words of the Basics tab: what each experiment shows, and the code of one step."""
from __future__ import annotations

SPEEDS = [("Watch it (about 5 s)", 5.0), ("Slow motion (about 15 s)", 15.0), ("As fast as possible", 0.0)]
LR_PRESETS = ["1e-8", "1e-6", "1e-4", "0.001", "0.01", "0.02", "0.05", "0.1", "0.3", "0.5", "1", "2", "5"]

EXPLAIN = {
    "line": (
        "<b>Fit a line.</b> The dots are 10,000 measurements of <i>y = 10·x + 4</i> plus random noise. "
        "The model is a line <i>y = w·x + b</i> that starts flat (w = 0, b = 0). Each <b>step</b> measures how "
        "far the line is from the dots &mdash; the <b>loss</b>, the average squared vertical distance &mdash; "
        "works out which way to nudge w and b to make the loss smaller (the <b>gradient</b>), and moves them a "
        "little that way; the <b>learning rate</b> says how far. "
        "<b>Good:</b> the loss falls steeply, then flattens at the dashed noise level (it cannot reach 0: "
        "the dots are noisy); w ends near 10 and b near 4. "
        "<b>Try:</b> Start with raw x and watch it blow up; then switch on <i>standardise x</i> and start again."),
    "sine": (
        "<b>Fit a sine.</b> The grey dots are sin(x) between &minus;&pi; and &pi;. The model is a polynomial "
        "<i>a<sub>0</sub> + a<sub>1</sub>x + a<sub>2</sub>x<sup>2</sup> + &hellip;</i> of the degree you choose, "
        "starting at 0 (a flat line). <b>Autograd</b> works out the gradient of the loss for every coefficient "
        "and the optimizer nudges them all at once. The powers are taken of x/&pi; (always between &minus;1 and 1) "
        "so that no coefficient needs a much smaller step than the others; the formula is written for the "
        "original x. <b>Good:</b> the orange curve hugs the sine and the largest error drops below 0.05. "
        "<b>Try:</b> degree 1 (a straight line can't bend), 3, 5 and 7; SGD versus Adam."),
    "spiral": (
        "<b>Classify a spiral.</b> Each colour is one arm of a spiral; the model must say which arm a point "
        "(x<sub>1</sub>, x<sub>2</sub>) belongs to. The background shows the model's answer everywhere "
        "(its <b>decision regions</b>), pale where it is unsure. The loss is the cross-entropy: small when the "
        "model gives the right arm a high probability. With <b>0 hidden layers</b> the model is logistic "
        "(softmax) regression: it can only cut the plane with straight lines, so it cannot follow the arms. "
        "A hidden layer lets it bend its boundaries. <b>Good:</b> the accuracy climbs above 95% and the "
        "colours wrap around the arms. <b>Try:</b> 0 hidden layers, then 1; ReLU versus tanh versus sigmoid."),
}

CODE = {
    "hand": ("# w = b = 0 to start; no autograd\n"
             "err = w * x + b - y     # miss per point\n"
             "loss = (err ** 2).mean()\n"
             "dw = 2 * (err * x).mean()  # dloss/dw\n"
             "db = 2 * err.mean()        # dloss/db\n"
             "w -= lr * dw            # step downhill\n"
             "b -= lr * db"),
    "autograd": ("w = torch.zeros((), requires_grad=True)\n"
                 "loss = ((w * x + b - y) ** 2).mean()\n"
                 "loss.backward()   # fills w.grad, b.grad\n"
                 "with torch.no_grad():\n"
                 "    w -= lr * w.grad\n"
                 "    b -= lr * b.grad\n"
                 "w.grad = b.grad = None"),
    "nn": ("model = nn.Linear(1, 1)\n"
           "opt = {opt}\n"
           "loss = F.mse_loss(model(x), y)\n"
           "opt.zero_grad()\n"
           "loss.backward()\n"
           "opt.step()"),
    "sine": ("t = x / math.pi   # powers stay in [-1, 1]\n"
             "features = t[:, None] ** torch.arange({n})\n"
             "a = torch.zeros({n}, requires_grad=True)\n"
             "opt = {opt}\n"
             "loss = F.mse_loss(features @ a, y)\n"
             "opt.zero_grad()\n"
             "loss.backward()\n"
             "opt.step()"),
    "spiral": ("model = {model}\n"
               "opt = {opt}\n"
               "loss = F.cross_entropy(model(points), arm)\n"
               "opt.zero_grad()\n"
               "loss.backward()\n"
               "opt.step()"),
}


def optimizer_code(name: str, params: str = "model.parameters()") -> str:
    return {"sgd": f"torch.optim.SGD({params}, lr)",
            "momentum": f"torch.optim.SGD(\n    {params}, lr, momentum=0.9)",
            "adam": f"torch.optim.Adam({params}, lr)"}[name]
