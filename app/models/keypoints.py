"""Facial keypoint regressors: ``kp-cnn4``, ``kp-resnet18``, ``kp-lite0`` and ``kp-lite0-pair`` (task "keypoints").

Both take a normalised grey face crop ``(B, 1, S, S)`` and return ``(B, 2 * P)`` numbers: the P
points as ``x0, y0, x1, y1, ...`` in *normalised* crop coordinates ``u = (x - c) / h`` with
``c = (S - 1) / 2`` and ``h = S / 2`` (x in pixels, pixel centres at integers). So ``u = -1`` is the
left edge of the first pixel and ``u = 1`` the right edge of the last one, the same convention as
``F.affine_grid(..., align_corners=False)``. ``app.engine.keypoints`` converts to and from pixels.

The builders follow the registry contract ``builder(in_channels, (h, w), num_outputs, **options)``
with ``num_outputs = 2 * P``.

* ``kp-cnn4``: the classic curriculum design (four 3x3 convolutions with batch norm, ReLU and 2x2
  max-pooling, 32-64-128-256 channels, then two dense layers with dropout).
* ``kp-resnet18``: torchvision's ``resnet18`` with a 1-channel first convolution and a regression
  head. The head flattens the last feature map (it keeps *where* the features are, which global
  average pooling would throw away) and maps it to ``2 * P`` numbers. With ``pretrained=True``
  (default) the ImageNet weights are used when they are already in the torch hub cache (the RGB
  kernels of the first convolution summed to grey); otherwise it trains from scratch. The model's
  ``imagenet_init`` attribute says which happened (the keypoint task records it).
* ``kp-lite0``: the shipped ImageNet EfficientNet-Lite0 (grey stem) with the same flattening head.
* ``kp-lite0-pair``: two ``kp-lite0`` networks, one on the crop and one on it resized (inside the model,
  by a fixed matrix product onnxruntime can run), whose answers are averaged.
"""
from __future__ import annotations

import torch
import torchvision
from torch import nn

from app.core.errors import ModelError
from app.models import efficientnet
from app.models.registry import register


class KeypointRegressor(nn.Module):
    """``forward(x) = head(features(x))`` -> ``(B, 2 * num_points)`` normalised coordinates."""

    def __init__(self, body: nn.Module, head: nn.Module, num_points: int, imagenet_init: bool = False) -> None:
        super().__init__()
        self.body = body
        self.head = head
        self.num_points = int(num_points)
        self.imagenet_init = bool(imagenet_init)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return torch.flatten(self.body(x), 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def _points(num_outputs: int, model: str) -> int:
    if num_outputs % 2:
        raise ModelError(f"{model} predicts (x, y) pairs, so it needs an even number of outputs, not {num_outputs}.")
    return num_outputs // 2


def _conv_block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout),
                         nn.ReLU(inplace=True), nn.MaxPool2d(2))


@register(
    "kp-cnn4",
    "Facial keypoints: four convolutions and two dense layers (the classic course design); small and fast.",
    task="keypoints",
    options={"width": 32, "hidden": 512, "dropout": 0.05},
    defaults={"optimizer": "adam", "lr": 2e-3, "weight_decay": 1e-4, "batch_size": 64, "epochs": 60,
              "schedule": "onecycle"},
    min_size=32,
    channels=(1,),
)
def build_kp_cnn4(in_channels: int, image_size: tuple[int, int], num_outputs: int,
                  width: int, hidden: int, dropout: float) -> KeypointRegressor:
    h, w = image_size
    if width < 1 or hidden < 1 or not (0 <= dropout < 1):
        raise ModelError("kp-cnn4 needs width >= 1, hidden >= 1 and 0 <= dropout < 1.")
    chans = [width, 2 * width, 4 * width, 8 * width]
    body = nn.Sequential(_conv_block(in_channels, chans[0]), _conv_block(chans[0], chans[1]),
                         _conv_block(chans[1], chans[2]), _conv_block(chans[2], chans[3]))
    flat = chans[3] * (h // 16) * (w // 16)
    head = nn.Sequential(nn.Dropout(dropout), nn.Linear(flat, hidden), nn.ReLU(inplace=True),
                         nn.Dropout(dropout), nn.Linear(hidden, num_outputs))
    return KeypointRegressor(body, head, _points(num_outputs, "kp-cnn4"))


def _imagenet_resnet18_state() -> dict | None:
    """torchvision's ImageNet weights for resnet18 when they are in the torch hub cache, else None."""
    from app.models.zoo import pretrained_weights_path

    path = pretrained_weights_path("resnet18")
    if not path.is_file():
        return None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # a truncated or foreign file: say what to do
        raise ModelError(f"The ImageNet weights file {path} cannot be read ({type(exc).__name__}); "
                         "delete it and download it again, or set pretrained=false.") from None
    return state if isinstance(state, dict) else None


def _grey_first_conv(conv: nn.Conv2d) -> nn.Conv2d:
    """A 1-channel copy of an RGB convolution (kernels summed over colour == grey image x 3)."""
    grey = nn.Conv2d(1, conv.out_channels, kernel_size=conv.kernel_size, stride=conv.stride,
                     padding=conv.padding, bias=conv.bias is not None)
    with torch.no_grad():
        grey.weight.copy_(conv.weight.sum(dim=1, keepdim=True))
    return grey


def _resnet_out_side(side: int) -> int:
    # conv1 (7x7, s2, p3), maxpool (3x3, s2, p1), then three stride-2 stages (3x3, p1)
    side = (side + 2 * 3 - 7) // 2 + 1
    for _ in range(4):
        side = (side + 2 - 3) // 2 + 1
    return side


@register(
    "kp-resnet18",
    "Facial keypoints: ResNet-18 with a regression head (ImageNet start when those weights are on this computer).",
    task="keypoints",
    options={"pretrained": True, "dropout": 0.0},
    defaults={"optimizer": "adamw", "lr": 2e-3, "weight_decay": 1e-4, "batch_size": 64, "epochs": 40,
              "schedule": "onecycle"},
    min_size=32,
    channels=(1,),
)
def build_kp_resnet18(in_channels: int, image_size: tuple[int, int], num_outputs: int,
                      pretrained: bool, dropout: float) -> KeypointRegressor:
    if not (0 <= dropout < 1):
        raise ModelError("kp-resnet18 needs 0 <= dropout < 1.")
    net = torchvision.models.resnet18()
    state = _imagenet_resnet18_state() if pretrained else None
    if state is not None:
        net.load_state_dict(state)
    net.conv1 = _grey_first_conv(net.conv1)
    body = nn.Sequential(net.conv1, net.bn1, net.relu, net.maxpool, net.layer1, net.layer2, net.layer3, net.layer4)
    h, w = image_size
    flat = 512 * _resnet_out_side(h) * _resnet_out_side(w)
    head = nn.Sequential(nn.Dropout(dropout), nn.Linear(flat, num_outputs))
    with torch.no_grad():  # start near the mean shape (0) so the first steps are calm
        head[1].weight.mul_(0.1)
        head[1].bias.zero_()
    return KeypointRegressor(body, head, _points(num_outputs, "kp-resnet18"), imagenet_init=state is not None)


class _LiteFeatures(nn.Module):
    """EfficientNet-Lite0 without its pooling: the (B, 1280, S/32, S/32) map of the last convolution."""

    def __init__(self, net) -> None:
        super().__init__()
        self.stem = nn.Sequential(net._conv_stem, net._bn0, nn.ReLU6(inplace=True))
        self.blocks = nn.Sequential(*net._blocks)
        self.head = nn.Sequential(net._conv_head, net._bn1, nn.ReLU6(inplace=True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.blocks(self.stem(x)))


#: what the EfficientNet-Lite0 keypoint models share in the registry: grey crops, the ImageNet weights' own
#: pixel scaling when they start from them, the settings their shipped weights were trained with
_LITE0_REGISTRATION = dict(
    task="keypoints",
    defaults={"optimizer": "adamw", "lr": 2e-3, "weight_decay": 1e-4, "batch_size": 32, "epochs": 30,
              "schedule": "onecycle"},
    min_size=32,
    channels=(1,),
    input_norm=efficientnet.INPUT_NORM,
    input_norm_when="pretrained",
)


@register(
    "kp-lite0",
    "Facial keypoints: EfficientNet-Lite0 pretrained on ImageNet (shipped with VisionDesk) with a regression "
    "head; accurate on faces it never saw and quick on a laptop processor.",
    options={"pretrained": True, "dropout": 0.0},
    **_LITE0_REGISTRATION,
)
def build_kp_lite0(in_channels: int, image_size: tuple[int, int], num_outputs: int,
                   pretrained: bool, dropout: float) -> KeypointRegressor:
    """The ImageNet network's convolutions (grey stem: the RGB kernels summed) and a linear layer over the
    flattened last feature map (it keeps where each feature is). Input: the face crop scaled the way the
    ImageNet weights expect, ``(v - 127) / 128`` (the keypoint task uses the model's own scaling)."""
    import math

    if not (0 <= dropout < 1):
        raise ModelError("kp-lite0 needs 0 <= dropout < 1.")
    h, w = image_size
    net = efficientnet.pretrained_network((h, w)) if pretrained else efficientnet.EfficientNetLite0((h, w))
    if in_channels == 1:
        net._conv_stem = efficientnet._grey_stem(net._conv_stem)
    for m in net.modules():   # the whole network learns: running statistics must follow it (TF's 0.01 lags)
        if isinstance(m, nn.BatchNorm2d):
            m.momentum = 0.1
    body = _LiteFeatures(net)
    side = lambda s: math.ceil(s / 32)   # noqa: E731 - five stride-2 steps with "same" padding
    flat = net._conv_head.out_channels * side(h) * side(w)
    head = nn.Sequential(nn.Dropout(dropout), nn.Linear(flat, num_outputs))
    with torch.no_grad():  # start near the mean shape (0) so the first steps are calm
        head[1].weight.mul_(0.1)
        head[1].bias.zero_()
    return KeypointRegressor(body, head, _points(num_outputs, "kp-lite0"), imagenet_init=pretrained)


def resize_matrix(src: int, dst: int) -> torch.Tensor:
    """The (dst, src) matrix ``A`` with ``A @ x @ A.T`` == the data's resize of a square picture ``x`` from
    ``src`` to ``dst`` pixels (``F.interpolate``, bilinear with antialiasing, as ``app.data.keypoints``
    resizes face crops). A matrix product instead of the resize itself because onnxruntime cannot run
    PyTorch's antialiased resize, and a model that resizes inside itself must run there too."""
    eye = torch.eye(src, dtype=torch.float64).view(src, 1, 1, src)  # each row: one picture with one bright column
    rows = nn.functional.interpolate(eye, size=(1, dst), mode="bilinear", align_corners=False, antialias=True)
    return rows.view(src, dst).t().float().contiguous()


class KeypointEnsemble(nn.Module):
    """Several keypoint networks that each look at the face at their own size; the answer is their average.

    Member ``i`` takes the crop resized by the buffer ``resize{i}`` (a fixed matrix, see ``resize_matrix``;
    None for a member at the input size). Two networks trained apart err in different ways, so the average errs less
    than either (measured: ``scripts/train_keypoints.py``)."""

    def __init__(self, members: list[nn.Module], input_size: int, sizes: list[int], num_points: int,
                 imagenet_init: bool = False) -> None:
        super().__init__()
        self.members = nn.ModuleList(members)
        self.num_points = int(num_points)
        self.imagenet_init = bool(imagenet_init)
        for i, s in enumerate(sizes):   # rebuilt from the sizes: not part of the saved weights
            self.register_buffer(f"resize{i}", resize_matrix(input_size, s) if s != input_size else None,
                                 persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = None
        for i, member in enumerate(self.members):
            a = getattr(self, f"resize{i}")
            y = member(x if a is None else torch.matmul(torch.matmul(a, x), a.t()))
            out = y if out is None else out + y
        return out * (1.0 / len(self.members))


@register(
    "kp-lite0-pair",
    "Facial keypoints: two EfficientNet-Lite0 networks, one on the face as given and one on it at "
    "second_size pixels, averaged; more accurate on new faces than one, and twice the work.",
    options={"pretrained": True, "dropout": 0.0, "second_size": 112},
    **_LITE0_REGISTRATION,
)
def build_kp_lite0_pair(in_channels: int, image_size: tuple[int, int], num_outputs: int,
                        pretrained: bool, dropout: float, second_size: int) -> KeypointEnsemble:
    """Two ``kp-lite0`` networks: one at the input size, one at ``second_size``. The shipped weights are two
    networks trained apart (``scripts/train_keypoints.py --model kp-lite0-pair``); trained here as one model,
    both learn from the error of their average."""
    h, w = image_size
    if h != w:
        raise ModelError("kp-lite0-pair takes square face crops.")
    if not 32 <= second_size <= 512:
        raise ModelError("kp-lite0-pair needs a second size between 32 and 512 pixels.")
    sizes = [h, int(second_size)]
    members = [build_kp_lite0(in_channels, (s, s), num_outputs, pretrained, dropout) for s in sizes]
    return KeypointEnsemble(members, h, sizes, _points(num_outputs, "kp-lite0-pair"), imagenet_init=pretrained)
