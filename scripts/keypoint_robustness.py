"""Usage: .venv/bin/python scripts/keypoint_robustness.py kp-resnet18 kp-cnn4 [CHECKPOINT ...]

NME on test.npz as given, on the same faces re-framed the way the Haar detector frames them (the
measured jitter only: log-scale std 0.08, shift std 0.056/0.019 of the side), mirror included, and
end to end the way the live view works: the Haar detector (``app.vision.FaceDetector``) on each 128 px
test picture, the model's crop placed by the face-crop rule (``app.data.keypoints.face_box_to_crop``),
points mapped back to the picture ("detector boxes"; faces the detector missed are counted, not scored)."""
import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
torch.set_num_threads(2)

from app.data.keypoints import KeypointAugment, face_box_to_crop, from_unit, load_keypoints, to_unit  # noqa: E402
from app.engine.keypoints import keypoint_metrics, load_keypoint_model  # noqa: E402


def detector_box_nme(kp, images: np.ndarray, points: torch.Tensor, eye_corners, rule=face_box_to_crop) -> dict:
    """NME (%) of ``kp`` on faces found by the Haar detector in ``images`` (N, H, W), crops placed by ``rule``."""
    from app.vision.faces import FaceDetector, crop_square, points_to_frame

    det = FaceDetector()
    S = kp.input_size
    crops, boxes, keep = [], [], []
    for i, img in enumerate(images):
        found = det.detect(img)
        if len(found) == 0:
            continue
        box = np.asarray(rule(found[0], kp.meta), np.float32)
        crops.append(crop_square(img, box, S))
        boxes.append(box)
        keep.append(i)
    pred = kp.predict(np.stack(crops))
    framed = np.stack([points_to_frame(pred[j], boxes[j], S) for j in range(len(keep))])
    m = keypoint_metrics(torch.as_tensor(framed), points[keep], eye_corners)
    return {"nme": round(100 * m["nme"], 3), "found": len(keep), "faces": len(images)}


def main(paths) -> None:
    for path in paths:
        kp = load_keypoint_model(path)
        ds = load_keypoints(str(ROOT.parent / 'shared' / 'data' / 'facial-keypoints'), size=kp.input_size)
        S = kp.input_size
        x = ds.test.images.float() / 255
        p = to_unit(ds.test.points, S)
        res = {}
        for name, aug in [("as given", None),
                          ("detector framing", KeypointAugment(scale=(1, 1), shift=0, rotate=0, flip=0, brightness=0,
                                                               contrast=(1, 1))),
                          ("detector framing + mirror", KeypointAugment(scale=(1, 1), shift=0, rotate=0, flip=1.0,
                                                                        brightness=0, contrast=(1, 1)))]:
            vals = []
            for seed in range(3 if aug else 1):
                xi, pi = (x, p) if aug is None else aug(x, p, kp.meta["flip_permutation"],
                                                        torch.Generator().manual_seed(seed))
                imgs = (xi[:, 0] * 255).round().clamp(0, 255).to(torch.uint8).numpy()
                pred = torch.as_tensor(kp.predict(imgs))
                vals.append(keypoint_metrics(pred, from_unit(pi, S), ds.eye_corners)["nme"])
            res[name] = round(100 * sum(vals) / len(vals), 3)
        full = load_keypoints(str(ROOT.parent / 'shared' / 'data' / 'facial-keypoints'), size=128)
        res["detector boxes"] = detector_box_nme(kp, full.test.images[:, 0].numpy(), full.test.points, ds.eye_corners)
        print(path, res, flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
