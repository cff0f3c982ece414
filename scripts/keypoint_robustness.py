"""Usage: .venv/bin/python scripts/keypoint_robustness.py kp-resnet18 kp-cnn4 [CHECKPOINT ...]

NME on test.npz as given, and on the same faces re-framed the way the Haar detector frames them
(the measured jitter only: log-scale std 0.08, shift std 0.056/0.019 of the side), mirror included."""
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
torch.set_num_threads(2)

from app.data.keypoints import KeypointAugment, load_keypoints, to_unit, from_unit
from app.engine.keypoints import load_keypoint_model, keypoint_metrics

for path in sys.argv[1:]:
    kp = load_keypoint_model(path)
    ds = load_keypoints(str(ROOT.parent / 'shared' / 'data' / 'facial-keypoints'), size=kp.input_size)
    S = kp.input_size
    x = ds.test.images.float() / 255
    p = to_unit(ds.test.points, S)
    res = {}
    for name, aug in [("as given", None),
                      ("detector framing", KeypointAugment(scale=(1, 1), shift=0, rotate=0, flip=0, brightness=0, contrast=(1, 1))),
                      ("detector framing + mirror", KeypointAugment(scale=(1, 1), shift=0, rotate=0, flip=1.0, brightness=0, contrast=(1, 1)))]:
        vals = []
        for seed in range(3 if aug else 1):
            xi, pi = (x, p) if aug is None else aug(x, p, kp.meta["flip_permutation"], torch.Generator().manual_seed(seed))
            imgs = (xi[:, 0] * 255).round().clamp(0, 255).to(torch.uint8).numpy()
            pred = torch.as_tensor(kp.predict(imgs))
            vals.append(keypoint_metrics(pred, from_unit(pi, S), ds.eye_corners)["nme"])
        res[name] = round(100 * sum(vals) / len(vals), 3)
    print(path, res, flush=True)
