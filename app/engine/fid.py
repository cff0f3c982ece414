"""The project's own GAN quality score: a Fréchet distance in a trained classifier's feature space.

Like FID (Heusel et al. 2017), but the features are the penultimate layer (``model.features``) of
VisionDesk's own classifier for that data set (shipped in ``weights/`` as ``classifier-<data>.pt``),
not Inception's. For two sets of features with means ``m1, m2`` and covariances ``C1, C2``::

    FD = |m1 - m2|^2 + tr(C1) + tr(C2) - 2 tr((C1 C2)^(1/2))

computed in float64 with torch only: ``tr((C1 C2)^(1/2)) = sum(sqrt(eig(S C2 S)))`` where
``S = C1^(1/2)`` comes from the symmetric eigendecomposition of ``C1`` (``S C2 S`` is symmetric
positive semi-definite and has the same eigenvalues as ``C1 C2``). No scipy.

The same classifier also labels the generated samples: the histogram of assigned classes shows
mode collapse (a GAN that only draws one kind of thing gives one tall bar).
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Hashable

import torch

from app.core.errors import CheckpointError

DEFAULT_SAMPLES = 10_000


# ------------------------------------------------------------------------------------------- the math
def feature_stats(features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean (D,) and unbiased covariance (D, D) of features (N, D), in float64."""
    f = features.detach().to(torch.float64)
    if f.dim() != 2 or f.shape[0] < 2:
        raise ValueError(f"need at least 2 feature vectors (N, D), got shape {tuple(f.shape)}")
    mu = f.mean(0)
    centred = f - mu
    cov = centred.T @ centred / (f.shape[0] - 1)
    return mu, cov


def _sqrt_psd(c: torch.Tensor) -> torch.Tensor:
    vals, vecs = torch.linalg.eigh(c)
    return (vecs * vals.clamp(min=0).sqrt()) @ vecs.T


def frechet_from_stats(mu1: torch.Tensor, cov1: torch.Tensor, mu2: torch.Tensor, cov2: torch.Tensor) -> float:
    """The Fréchet distance between two Gaussians given by their means and covariances."""
    mu1, mu2 = mu1.to(torch.float64), mu2.to(torch.float64)
    cov1, cov2 = cov1.to(torch.float64), cov2.to(torch.float64)
    s1 = _sqrt_psd(cov1)
    m = s1 @ cov2 @ s1
    m = (m + m.T) / 2
    tr_sqrt = torch.linalg.eigvalsh(m).clamp(min=0).sqrt().sum()
    diff = mu1 - mu2
    fd = diff.dot(diff) + cov1.trace() + cov2.trace() - 2 * tr_sqrt
    return float(fd.clamp(min=0))


def frechet_distance(features_a: torch.Tensor, features_b: torch.Tensor) -> float:
    """Fréchet distance between two sets of feature vectors (N, D) and (M, D)."""
    return frechet_from_stats(*feature_stats(features_a), *feature_stats(features_b))


def class_histogram(probabilities: torch.Tensor, num_classes: int | None = None) -> list[int]:
    """How many samples the classifier assigns to each class (argmax of (N, K) probabilities)."""
    k = num_classes or probabilities.shape[1]
    return torch.bincount(probabilities.argmax(1).cpu(), minlength=k).tolist()


def max_share(histogram: list[int]) -> float:
    total = sum(histogram)
    return max(histogram) / total if total else 0.0


# ------------------------------------------------------------------------------------------- the scorer
@dataclass
class ScoreResult:
    fd: float
    histogram: list[int]
    classes: list[str]
    n: int
    max_share: float = field(init=False)

    def __post_init__(self) -> None:
        self.max_share = max_share(self.histogram)

    def to_dict(self) -> dict:
        return {"fd": self.fd, "histogram": list(self.histogram), "classes": list(self.classes), "n": self.n,
                "max_share": self.max_share}


def images_from_tanh(x: torch.Tensor) -> torch.Tensor:
    """Generator output in [-1, 1] -> uint8 images on the CPU (same quantisation as real images)."""
    return ((x.detach().float() + 1) * 127.5).round_().clamp_(0, 255).to(torch.uint8).cpu()


class GanScorer:
    """Scores generators against a fixed set of real images with one classifier.

    ``real_images``: uint8 (N, C, H, W), usually the test split (or its images of one class).
    The real statistics are computed once, on at most ``n_samples`` images.
    """

    def __init__(self, classifier, real_images: torch.Tensor, n_samples: int = DEFAULT_SAMPLES,
                 batch_size: int = 500) -> None:
        self.classifier = classifier
        self.n_samples = int(n_samples)
        self.batch_size = int(batch_size)
        if tuple(real_images.shape[1:]) != tuple(classifier.input_shape):
            raise CheckpointError(f"The score classifier expects images of shape "
                                  f"{'x'.join(map(str, classifier.input_shape))}, not "
                                  f"{'x'.join(map(str, real_images.shape[1:]))}.")
        real = real_images[: self.n_samples]
        self.n_real = int(real.shape[0])
        self.real_mu, self.real_cov = feature_stats(classifier.features(real, batch_size=self.batch_size))

    @property
    def classes(self) -> list[str]:
        return self.classifier.classes

    def score_images(self, images: torch.Tensor) -> ScoreResult:
        """FD and class histogram of uint8 images (N, C, H, W)."""
        feats, probs = [], []
        for i in range(0, len(images), self.batch_size):
            chunk = self.classifier.normalise(images[i:i + self.batch_size])
            model = self.classifier.model
            head = getattr(model, "classifier_head", None)
            with torch.no_grad():
                f = model.features(chunk)
                logits = head(f) if head is not None else model(chunk)
            feats.append(f.float().cpu())
            probs.append(logits.float().softmax(1).cpu())
        f = torch.cat(feats)
        fd = frechet_from_stats(*feature_stats(f), self.real_mu, self.real_cov)
        return ScoreResult(fd, class_histogram(torch.cat(probs), len(self.classes)), self.classes, int(f.shape[0]))

    @torch.no_grad()
    def score_generator(self, generator: torch.nn.Module, latent_dim: int, device, seed: int = 12345,
                        n: int | None = None, batch_size: int = 500) -> ScoreResult:
        """Generate ``n`` (default ``n_samples``) images from latents drawn with ``seed`` (the same
        latents every time, so scores of different epochs compare like with like) and score them."""
        n = int(n or self.n_samples)
        g = torch.Generator().manual_seed(int(seed))
        was_training = generator.training
        generator.eval()
        out = []
        try:
            for i in range(0, n, batch_size):
                b = min(batch_size, n - i)
                z = torch.randn(b, latent_dim, generator=g).to(device)
                out.append(images_from_tanh(generator(z)))
        finally:
            generator.train(was_training)
        return self.score_images(torch.cat(out))


def real_floor(classifier, images: torch.Tensor, seed: int = 0, n: int | None = None) -> float:
    """FD between two disjoint random halves of real images: the best score a generator can hope for
    at that sample size."""
    g = torch.Generator().manual_seed(int(seed))
    idx = torch.randperm(len(images), generator=g)
    if n:
        idx = idx[: 2 * int(n)]
    half = len(idx) // 2
    fa = classifier.features(images[idx[:half]])
    fb = classifier.features(images[idx[half:2 * half]])
    return frechet_distance(fa, fb)


# ------------------------------------------------------------------------------------------- finding the classifier
# data sets scored with another set's classifier (same images and classes)
SCORED_AS = {"fashion-mnist-sample": "fashion-mnist"}


def shipped_classifier_name(data: str) -> str:
    return f"classifier-{SCORED_AS.get(data, data)}"


def find_score_classifier(data: str, explicit: str | Path | None = None, device="cpu",
                          log: Callable[[str], None] | None = None):
    """The classifier that scores GANs of data set ``data``: ``explicit`` (a checkpoint or run folder)
    when given, else the shipped ``weights/classifier-<data>.pt`` after its checksum check.
    Returns None (and logs why) when there is none for this data set; raises CheckpointError when an
    explicit file is unusable."""
    from app.engine.predict import load_classifier

    if explicit:
        return load_classifier(explicit, device=device)
    name = shipped_classifier_name(data)
    try:
        from app.core.weights import verified_weight_path

        path = verified_weight_path(name)
    except CheckpointError as exc:
        if log:
            log(f"No score for {data}: {exc}")
        return None
    return load_classifier(path, device=device)


# ------------------------------------------------------------------------------------------- nearest real images
@dataclass
class NearestImages:
    """The real images closest to a query image in a classifier's feature space."""

    indices: list[int]          # into the searched images, nearest first
    distances: list[float]      # feature-space distances, same order
    typical: float              # how far a real image's nearest other real image typically is (median)


class _FeatureCache:
    """The features of the last searched image set (computing them is the slow part of a search);
    several background jobs may ask at once, hence the lock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._key: Hashable | None = None
        self._features: torch.Tensor | None = None

    def get(self, key: Hashable, compute: Callable[[], torch.Tensor]) -> torch.Tensor:
        with self._lock:
            if key is not None and key == self._key and self._features is not None:
                return self._features
        features = compute()
        if key is not None:
            with self._lock:
                self._key, self._features = key, features
        return features

    def clear(self) -> None:
        with self._lock:
            self._key = self._features = None


_REAL_FEATURES = _FeatureCache()


def nearest_real_images(classifier, images: torch.Tensor, query: torch.Tensor, k: int = 6, *,
                        cache_key: Hashable | None = None, probe: int = 200, seed: int = 0) -> NearestImages:
    """The ``k`` images of ``images`` (uint8 N x C x H x W) nearest to ``query`` (uint8 1 x C x H x W) in
    ``classifier``'s feature space (``classifier.features``), to spot a GAN that copies its training
    images. ``typical`` is the median distance from ``probe`` random real images to their nearest other
    real image: a generated sample much closer than that to a training image is probably a copy.
    ``cache_key`` (e.g. the data set's name and size) keeps the features of ``images`` for the next search."""
    if len(images) == 0:
        raise ValueError("no images to search")
    feats = _REAL_FEATURES.get(None if cache_key is None else (id(classifier), cache_key),
                               lambda: classifier.features(images))
    query = query if query.dim() == 4 else query.unsqueeze(0)
    d = torch.cdist(classifier.features(query[:1]), feats)[0]
    dist, order = d.topk(min(int(k), len(d)), largest=False)
    typical = float("nan")
    if len(feats) >= 2:
        g = torch.Generator().manual_seed(int(seed))
        sample = feats[torch.randint(len(feats), (min(int(probe), len(feats)),), generator=g)]
        # the nearest of each probe is itself (distance 0): its second nearest is its real neighbour
        typical = float(torch.cdist(sample, feats).topk(2, largest=False).values[:, 1].median())
    return NearestImages([int(i) for i in order.tolist()], [float(v) for v in dist.tolist()], typical)


__all__ = ["DEFAULT_SAMPLES", "GanScorer", "NearestImages", "ScoreResult", "class_histogram", "feature_stats",
           "find_score_classifier", "frechet_distance", "frechet_from_stats", "images_from_tanh", "max_share",
           "nearest_real_images", "real_floor", "shipped_classifier_name"]
