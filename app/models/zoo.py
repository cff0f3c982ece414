"""Image classifiers: the curriculum's nets, modern small-image nets and torchvision transfer nets.

Every classifier here is a ``Classifier``: it adapts to the image channels, the image size and the
number of classes given when it is built, and splits into two parts:

* ``features(x) -> (B, D)``: everything up to and including the penultimate layer (``body``),
  ``D == model.feature_dim``. A GAN scorer (an "Inception score" / FID style metric) or a
  nearest-neighbour view uses this.
* ``classifier_head``: the last layer, mapping the ``D`` features to ``K`` class logits.

``forward(x) == classifier_head(features(x))`` returns raw logits (no softmax); train them with
``nn.CrossEntropyLoss``. Models are built through ``app.models.build_model``; the builders below are
registered with ``app.models.registry.register``.

Transfer models (``tv-resnet18``, ``tv-vgg11``, ``tv-vgg16``):

* ``tv-vgg11`` and ``tv-vgg16`` are torchvision's plain ``vgg11`` / ``vgg16`` (without batch norm), layer
  for layer, the networks of the classic lessons (132,863,336 and 138,357,544 parameters for 1000
  classes); its last layer ``classifier[6]`` is replaced by a fresh ``Linear(4096, K)``,
  so ``features`` is the 4096-wide output of the pretrained classifier's second dense layer.
* ``tv-resnet18`` is torchvision's ``resnet18`` with ``fc`` replaced by a fresh ``Linear(512, K)``.
* Grey images: the first convolution's pretrained RGB kernels are summed over the colour axis. That is
  exactly what the network computes on a grey image repeated into three channels, at a third of the
  cost and without copying the input.
* Small images are enlarged inside the model (a bilinear ``nn.Upsample`` layer, visible in the layer
  summary) so the shorter side reaches ``upscale_to`` pixels (default 64 for resnet18 and 224, the
  ImageNet size, for vgg16); images already that large are left alone. The target size is fixed when
  the model is built for its image size, so exported models have no shape-dependent branches.
  ``upscale_to=0`` switches enlarging off.
* ``pretrained=True`` loads the ImageNet weights only from the torch hub cache
  (``torch.hub.get_dir()/checkpoints/<torchvision file name>``) or from ``weights_file`` (a copy of
  torchvision's ``.pth`` the person already has, read with ``weights_only=True``), never from the network;
  ``download_pretrained(name)`` fetches them (the GUI's Download button). ``freeze_backbone=True``
  stops gradients everywhere but ``classifier_head`` and keeps the backbone's batch-norm statistics
  fixed (those layers stay in eval mode even while the model trains).
"""
from __future__ import annotations

import os
import re
from collections import OrderedDict
from pathlib import Path
from urllib.error import URLError

import torch
import torchvision
from torch import nn

from app.core.errors import ModelError, OfflineError
from app.models.layers import (NORM_PREFIX, activation_layer, check_activation, check_loss, check_norm,
                               norm_layer, output_layer)
from app.models.registry import register

# the layer choices of the classic models (mlp, classic-cnn, lenet5, cnn4); see app.models.layers
LAYER_OPTIONS = {"norm": "none", "activation": "relu", "loss": "cross-entropy"}


class Classifier(nn.Module):
    """``forward(x) = output(classifier_head(features(x)))``; ``features(x)`` is ``(B, feature_dim)``.

    ``output`` is an optional last layer without weights (``LogSoftmax`` for the lessons' log-softmax +
    NLL loss, ``Sigmoid`` for two-class logistic regression); ``output_kind`` says what ``forward``
    returns ("logits", "log-probs" or "binary-prob", see ``app.models.layers``).
    """

    def __init__(self, body: nn.Module, classifier_head: nn.Module, feature_dim: int,
                 output: nn.Module | None = None, output_kind: str = "logits") -> None:
        super().__init__()
        self.body = body
        self.classifier_head = classifier_head
        self.feature_dim = int(feature_dim)
        if output is not None:
            self.output = output
        self.output_kind = output_kind

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The penultimate activations, flattened: ``(B, feature_dim)``."""
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.classifier_head(self.features(x))
        output = getattr(self, "output", None)
        return y if output is None else output(y)


class TransferClassifier(Classifier):
    """A torchvision backbone with a new head; may keep the backbone frozen."""

    def __init__(self, body: nn.Module, classifier_head: nn.Module, feature_dim: int,
                 freeze_backbone: bool = False) -> None:
        super().__init__(body, classifier_head, feature_dim)
        self.backbone_frozen = False
        self.set_backbone_frozen(freeze_backbone)

    #: set by a builder whose frozen body always gives the same features (then they can be cached)
    feature_cache_key: str | None = None

    def set_backbone_frozen(self, frozen: bool) -> None:
        """Freeze (or unfreeze, for a second fine-tuning stage) everything but ``classifier_head``."""
        self.backbone_frozen = bool(frozen)
        for p in self.body.parameters():
            p.requires_grad_(not self.backbone_frozen)
        self.train(self.training)

    def set_trainable_tail(self, modules: list[nn.Module]) -> None:
        """With a frozen backbone, train these parts of it too ("adapt the last blocks")."""
        self._tail = list(modules)
        for m in self._tail:
            for p in m.parameters():
                p.requires_grad_(True)
        self.train(self.training)

    def train(self, mode: bool = True) -> "TransferClassifier":
        super().train(mode)
        if self.backbone_frozen:
            # Frozen weights with moving batch-norm statistics would still drift; keep them fixed.
            for m in self.body.modules():
                if isinstance(m, nn.modules.batchnorm._BatchNorm):
                    m.eval()
            for m in getattr(self, "_tail", ()):
                m.train(mode)
        return self


# -- helpers ---------------------------------------------------------------------------------

def _conv_out(size: int, kernel: int, stride: int = 1, padding: int = 0) -> int:
    return (size + 2 * padding - kernel) // stride + 1


def _check_dropout(model: str, p: float) -> float:
    if not 0.0 <= p < 1.0:
        raise ModelError(f"The dropout of {model} must be between 0 and 1 (for example 0.5), not {p}.")
    return float(p)


def _check_fc_input(model: str, height: int, width: int) -> None:
    if height < 1 or width < 1:
        raise ModelError(f"{model}: the images are too small for its convolutions and pooling.")


# -- softmax / mlp ---------------------------------------------------------------------------

@register(
    "softmax",
    "Softmax regression: one weighted sum of all pixels per class. The simplest baseline.",
    max_size=128,
    defaults={"weight_decay": 0.0},
)
def build_softmax(in_channels: int, image_size: tuple[int, int], num_classes: int) -> Classifier:
    d = in_channels * image_size[0] * image_size[1]
    return Classifier(nn.Flatten(), nn.Linear(d, num_classes), d)


def _layer_choices(model: str, norm: str, activation: str, loss: str) -> tuple[str, str, nn.Module | None, str]:
    """Checked (norm, activation, output layer, output kind) of a classic model's options."""
    norm, act = check_norm(model, norm), check_activation(model, activation)
    out, kind = output_layer(check_loss(model, loss))
    return norm, act, out, kind


def _add_norm(layers: OrderedDict, kind: str, channels: int, maps: bool, suffix: str) -> bool:
    layer = norm_layer(kind, channels, maps)
    if layer is not None:
        layers[f"{NORM_PREFIX[kind]}{suffix}"] = layer
    return layer is not None


def _parse_hidden(model: str, hidden) -> list[int]:
    text = str(hidden).strip().strip("[]()")
    try:
        sizes = [int(v) for v in re.split(r"[,x\s]+", text) if v] if text not in ("", "0", "none") else []
    except ValueError:
        raise ModelError(f"{model}: hidden layers are widths separated by commas, e.g. 256,128 (not {hidden!r}).") from None
    if len(sizes) > 8 or any(not 1 <= n <= 8192 for n in sizes):
        raise ModelError(f"{model}: up to 8 hidden layers of 1 to 8192 units each, e.g. 256,128 (not {hidden!r}).")
    return sizes


@register(
    "mlp",
    "Multilayer perceptron: hidden dense layers (default 256 and 128 units) on the raw pixels or the "
    "columns of a table; choose the widths, the activation and the normalisation.",
    options={"dropout": 0.2, "hidden": "256,128", **LAYER_OPTIONS},
    max_size=1024,
)
def build_mlp(in_channels: int, image_size: tuple[int, int], num_classes: int,
              dropout: float, hidden: str, norm: str, activation: str, loss: str) -> Classifier:
    p = _check_dropout("mlp", dropout)
    if min(image_size) > 1 and max(image_size) > 128:
        raise ModelError(f"mlp works on images of at most 128x128 pixels (its first layer would have a weight "
                         f"for every pixel); these are {image_size[0]}x{image_size[1]}. Choose a smaller size.")
    norm, act, out, kind = _layer_choices("mlp", norm, activation, loss)
    if norm == "instance":
        raise ModelError("mlp: instance normalisation works on feature maps (convolutions); for dense layers "
                         "choose none, batch, layer or group.")
    d = in_channels * image_size[0] * image_size[1]
    layers = OrderedDict([("flatten", nn.Flatten())])
    width = d
    for i, n in enumerate(_parse_hidden("mlp", hidden), start=1):
        layers[f"fc{i}"] = nn.Linear(width, n)
        _add_norm(layers, norm, n, False, str(i))
        layers[f"{act.replace('-', '')}{i}"] = activation_layer(act)
        layers[f"drop{i}"] = nn.Dropout(p)
        width = n
    body = nn.Sequential(layers) if len(layers) > 1 else nn.Flatten()
    return Classifier(body, nn.Linear(width, num_classes), width, out, kind)


# -- classic curriculum nets -------------------------------------------------------------------

@register(
    "classic-cnn",
    "The classic small CNN of the PyTorch MNIST lesson: two convolutions and two dense layers.",
    options={"dropout": 0.5, **LAYER_OPTIONS},
    min_size=16,
    max_size=256,
    defaults={"lr": 0.03, "batch_size": 64, "augment": False},  # the lesson trains on plain digits: 98.86% in 5 epochs
)
def build_classic_cnn(in_channels: int, image_size: tuple[int, int], num_classes: int,
                      dropout: float, norm: str, activation: str, loss: str) -> Classifier:
    p = _check_dropout("classic-cnn", dropout)
    norm, act, out, kind = _layer_choices("classic-cnn", norm, activation, loss)
    h, w = ((_conv_out(s, 5) // 2 - 4) // 2 for s in image_size)
    _check_fc_input("classic-cnn", h, w)
    a = "relu" if act == "relu" else act.replace("-", "")
    layers = OrderedDict([("conv1", nn.Conv2d(in_channels, 10, kernel_size=5))])
    _add_norm(layers, norm, 10, True, "1")
    layers["pool1"] = nn.MaxPool2d(2)
    layers[f"{a}1"] = activation_layer(act)
    layers["conv2"] = nn.Conv2d(10, 20, kernel_size=5)
    _add_norm(layers, norm, 20, True, "2")
    layers["conv2_drop"] = nn.Dropout2d(p)
    layers["pool2"] = nn.MaxPool2d(2)
    layers[f"{a}2"] = activation_layer(act)
    layers["flatten"] = nn.Flatten()
    layers["fc1"] = nn.Linear(20 * h * w, 50)
    _add_norm(layers, norm, 50, False, "_fc1")
    layers[f"{a}3"] = activation_layer(act)
    layers["dropout"] = nn.Dropout(p)
    return Classifier(nn.Sequential(layers), nn.Linear(50, num_classes), 50, out, kind)


@register(
    "lenet5",
    "LeNet-5 (LeCun 1998): two convolutions with pooling, then dense layers of 120 and 84 units.",
    options=dict(LAYER_OPTIONS),
    min_size=12,
    max_size=256,
)
def build_lenet5(in_channels: int, image_size: tuple[int, int], num_classes: int,
                 norm: str, activation: str, loss: str) -> Classifier:
    # LeCun's net expects 32x32 inputs; as in the usual MNIST version, smaller images get 2 pixels
    # of padding in the first convolution so 28x28 digits give the same 16x5x5 maps. ReLU and max
    # pooling replace the original tanh and trainable sub-sampling (same parameter count as the
    # modern textbook version); activation=tanh gives LeCun's activation back.
    norm, act, out, kind = _layer_choices("lenet5", norm, activation, loss)
    pad = 2 if min(image_size) < 32 else 0
    h, w = ((_conv_out(s, 5, padding=pad) // 2 - 4) // 2 for s in image_size)
    _check_fc_input("lenet5", h, w)
    a = act.replace("-", "")
    layers = OrderedDict([("conv1", nn.Conv2d(in_channels, 6, kernel_size=5, padding=pad))])
    _add_norm(layers, norm, 6, True, "1")
    layers[f"{a}1"] = activation_layer(act)
    layers["pool1"] = nn.MaxPool2d(2)
    layers["conv2"] = nn.Conv2d(6, 16, kernel_size=5)
    _add_norm(layers, norm, 16, True, "2")
    layers[f"{a}2"] = activation_layer(act)
    layers["pool2"] = nn.MaxPool2d(2)
    layers["flatten"] = nn.Flatten()
    layers["fc1"] = nn.Linear(16 * h * w, 120)
    _add_norm(layers, norm, 120, False, "_fc1")
    layers[f"{a}3"] = activation_layer(act)
    layers["fc2"] = nn.Linear(120, 84)
    _add_norm(layers, norm, 84, False, "_fc2")
    layers[f"{a}4"] = activation_layer(act)
    return Classifier(nn.Sequential(layers), nn.Linear(84, num_classes), 84, out, kind)


# -- logistic regression (the tables lessons; listed after the curriculum's image nets) ------------

@register(
    "logistic",
    "Logistic regression: one linear layer. Two classes: a sigmoid and binary cross-entropy; more "
    "classes: softmax (cross-entropy). The lessons' model for tables (CSV files).",
    max_size=1024,
    defaults={"lr": 0.1, "weight_decay": 0.0, "batch_size": 32, "epochs": 60, "schedule": "cosine",
              "momentum": 0.9},
)
def build_logistic(in_channels: int, image_size: tuple[int, int], num_classes: int) -> Classifier:
    d = in_channels * image_size[0] * image_size[1]
    if num_classes == 2:
        return Classifier(nn.Flatten(), nn.Linear(d, 1), d, nn.Sigmoid(), "binary-prob")
    return Classifier(nn.Flatten(), nn.Linear(d, num_classes), d)


# -- cnn4 --------------------------------------------------------------------------------------

def _conv_bn_relu(cin: int, cout: int, batch_norm: bool = True) -> list[nn.Module]:
    layers: list[nn.Module] = [nn.Conv2d(cin, cout, kernel_size=3, padding=1, bias=not batch_norm)]
    if batch_norm:
        layers.append(nn.BatchNorm2d(cout))
    layers.append(nn.ReLU(inplace=True))
    return layers


@register(
    "cnn4",
    "Four 3x3 convolutions with batch norm and a dense layer of 512: about 93% on Fashion-MNIST.",
    options={"hidden": 512, "dropout": 0.5, "conv_dropout": 0.25, **LAYER_OPTIONS, "norm": "batch"},
    min_size=8,
)
def build_cnn4(in_channels: int, image_size: tuple[int, int], num_classes: int,
               hidden: int, dropout: float, conv_dropout: float, norm: str, activation: str,
               loss: str) -> Classifier:
    # conv32-conv32-pool-conv64-conv64-pool (3x3, BN, ReLU), then dense 512 + BN + dropout 0.5:
    # the well-known Fashion-MNIST design (~93-94% test accuracy in 10 epochs). Other norm choices
    # replace every batch norm (instance norm only on the convolutions: the dense layer has no maps).
    p = _check_dropout("cnn4", dropout)
    pc = _check_dropout("cnn4", conv_dropout)
    if hidden < 1:
        raise ModelError(f"The hidden layer of cnn4 needs at least 1 unit, not {hidden}.")
    norm, act, out, kind = _layer_choices("cnn4", norm, activation, loss)
    a = act.replace("-", "")
    h, w = (s // 4 for s in image_size)
    layers = OrderedDict()
    for i, (cin, cout) in enumerate([(in_channels, 32), (32, 32), (32, 64), (64, 64)], start=1):
        layers[f"conv{i}"] = nn.Conv2d(cin, cout, kernel_size=3, padding=1, bias=norm == "none")
        _add_norm(layers, norm, cout, True, str(i))
        layers[f"{a}{i}"] = activation_layer(act)
        if i % 2 == 0:
            layers[f"pool{i // 2}"] = nn.MaxPool2d(2)
            layers[f"drop{i // 2}"] = nn.Dropout(pc)
    if h > 8 or w > 8:
        # Large images: average down to at most 8x8 so the dense layer stays small.
        h, w = min(h, 8), min(w, 8)
        layers["avgpool"] = nn.AdaptiveAvgPool2d((h, w))
    layers["flatten"] = nn.Flatten()
    dense_norm = norm_layer(norm, hidden, False)
    layers["fc1"] = nn.Linear(64 * h * w, hidden, bias=dense_norm is None)
    if dense_norm is not None:
        layers[f"{NORM_PREFIX[norm]}_fc1"] = dense_norm
    layers[f"{a}_fc1"] = activation_layer(act)
    layers["drop_fc1"] = nn.Dropout(p)
    return Classifier(nn.Sequential(layers), nn.Linear(hidden, num_classes), hidden, out, kind)


# -- VGG (CIFAR style) -------------------------------------------------------------------------

_VGG_CFG = {
    "vgg11": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "vgg16": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
}


def _build_vgg(arch: str, in_channels: int, image_size: tuple[int, int], num_classes: int,
               batch_norm: bool) -> Classifier:
    # CIFAR-style VGG: 3x3 convolutions, a max pool after each block while the maps are at least
    # 2x2 (so 28x28 and other small images work: the last pool is skipped), global average pooling
    # and one dense layer on the 512 features.
    layers = OrderedDict()
    cin, h, w = in_channels, image_size[0], image_size[1]
    conv_i, pool_i = 0, 0
    for v in _VGG_CFG[arch]:
        if v == "M":
            if min(h, w) >= 2:
                pool_i += 1
                layers[f"pool{pool_i}"] = nn.MaxPool2d(2)
                h, w = h // 2, w // 2
            continue
        conv_i += 1
        parts = _conv_bn_relu(cin, int(v), batch_norm)
        layers[f"conv{conv_i}"] = parts[0]
        if batch_norm:
            layers[f"bn{conv_i}"] = parts[1]
        layers[f"relu{conv_i}"] = parts[-1]
        cin = int(v)
    layers["avgpool"] = nn.AdaptiveAvgPool2d(1)
    layers["flatten"] = nn.Flatten()
    return Classifier(nn.Sequential(layers), nn.Linear(512, num_classes), 512)


@register(
    "vgg11",
    "VGG-11 for small images (not torchvision's VGG-11, that is tv-vgg11): the same eight 3x3 convolutions, "
    "plus batch norm; a max pool only while the maps are at least 2x2; then global average pooling and one "
    "dense layer of 512 -> classes instead of a 7x7 average pool and dense layers of 4096, 4096 and 1000 "
    "(about 9.2 million parameters instead of 132.9 million).",
    options={"batch_norm": True},
    min_size=8,
    defaults={"epochs": 20},
)
def build_vgg11(in_channels: int, image_size: tuple[int, int], num_classes: int,
                batch_norm: bool) -> Classifier:
    return _build_vgg("vgg11", in_channels, image_size, num_classes, batch_norm)


@register(
    "vgg16",
    "VGG-16 for small images: thirteen 3x3 convolution layers, batch norm, one dense layer.",
    options={"batch_norm": True},
    min_size=8,
    defaults={"epochs": 20},
)
def build_vgg16(in_channels: int, image_size: tuple[int, int], num_classes: int,
                batch_norm: bool) -> Classifier:
    return _build_vgg("vgg16", in_channels, image_size, num_classes, batch_norm)


# -- ResNet-18 ---------------------------------------------------------------------------------

def _resnet_body(net: torchvision.models.ResNet) -> nn.Sequential:
    parts = [("conv1", net.conv1), ("bn1", net.bn1), ("relu", net.relu)]
    if not isinstance(net.maxpool, nn.Identity):
        parts.append(("maxpool", net.maxpool))
    parts += [("layer1", net.layer1), ("layer2", net.layer2), ("layer3", net.layer3),
              ("layer4", net.layer4), ("avgpool", net.avgpool), ("flatten", nn.Flatten())]
    return nn.Sequential(OrderedDict(parts))


@register(
    "resnet18",
    "ResNet-18 trained from scratch: 18 layers with shortcut connections; strong on CIFAR-10.",
    min_size=8,
    defaults={"epochs": 20},
)
def build_resnet18(in_channels: int, image_size: tuple[int, int], num_classes: int) -> Classifier:
    net = torchvision.models.resnet18(num_classes=num_classes)
    if max(image_size) <= 64:
        # Small-image stem (as for CIFAR): 3x3 stride-1 convolution and no max pool, so a 32x32
        # image still has 4x4 maps in the last stage instead of 1x1.
        net.conv1 = nn.Conv2d(in_channels, 64, kernel_size=3, stride=1, padding=1, bias=False)
        net.maxpool = nn.Identity()
    else:
        net.conv1 = nn.Conv2d(in_channels, 64, kernel_size=7, stride=2, padding=3, bias=False)
    nn.init.kaiming_normal_(net.conv1.weight, mode="fan_out", nonlinearity="relu")
    return Classifier(_resnet_body(net), net.fc, 512)


# -- Inception (GoogLeNet style, the PyTorch tutorial net) ------------------------------------

class InceptionA(nn.Module):
    """The tutorial's Inception block: 1x1 | 1x1->5x5 | 1x1->3x3->3x3 | avgpool->1x1 = 88 channels."""

    out_channels = 88

    def __init__(self, in_channels: int) -> None:
        super().__init__()
        self.branch1x1 = nn.Conv2d(in_channels, 16, kernel_size=1)
        self.branch5x5_1 = nn.Conv2d(in_channels, 16, kernel_size=1)
        self.branch5x5_2 = nn.Conv2d(16, 24, kernel_size=5, padding=2)
        self.branch3x3dbl_1 = nn.Conv2d(in_channels, 16, kernel_size=1)
        self.branch3x3dbl_2 = nn.Conv2d(16, 24, kernel_size=3, padding=1)
        self.branch3x3dbl_3 = nn.Conv2d(24, 24, kernel_size=3, padding=1)
        self.branch_pool_avg = nn.AvgPool2d(kernel_size=3, stride=1, padding=1)
        self.branch_pool = nn.Conv2d(in_channels, 24, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b1 = self.branch1x1(x)
        b5 = self.branch5x5_2(self.branch5x5_1(x))
        b3 = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        bp = self.branch_pool(self.branch_pool_avg(x))
        return torch.cat([b1, b5, b3, bp], dim=1)


@register(
    "inception",
    "A small GoogLeNet-style net: two convolutions, each followed by an Inception block.",
    min_size=16,
    max_size=256,
    defaults={"lr": 0.03},
)
def build_inception(in_channels: int, image_size: tuple[int, int], num_classes: int) -> Classifier:
    h, w = ((_conv_out(s, 5) // 2 - 4) // 2 for s in image_size)
    _check_fc_input("inception", h, w)
    d = InceptionA.out_channels * h * w
    body = nn.Sequential(OrderedDict([
        ("conv1", nn.Conv2d(in_channels, 10, kernel_size=5)),
        ("pool1", nn.MaxPool2d(2)),
        ("relu1", nn.ReLU()),
        ("incept1", InceptionA(10)),
        ("conv2", nn.Conv2d(InceptionA.out_channels, 20, kernel_size=5)),
        ("pool2", nn.MaxPool2d(2)),
        ("relu2", nn.ReLU()),
        ("incept2", InceptionA(20)),
        ("flatten", nn.Flatten()),
    ]))
    return Classifier(body, nn.Linear(d, num_classes), d)


# -- torchvision transfer models ---------------------------------------------------------------

#: the scaling torchvision's ImageNet weights were trained with (RGB mean, std on the 0..1 scale)
IMAGENET_NORM = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))

def _tv_weights(arch: str):
    if arch == "resnet18":
        return torchvision.models.ResNet18_Weights.IMAGENET1K_V1
    if arch == "vgg16":
        return torchvision.models.VGG16_Weights.IMAGENET1K_V1
    if arch == "vgg11":
        return torchvision.models.VGG11_Weights.IMAGENET1K_V1
    raise ModelError(f"There are no ImageNet weights for {arch!r}; known: tv-resnet18, tv-vgg11, tv-vgg16.")


def _arch(name: str) -> str:
    return name[3:] if name.startswith("tv-") else name


def pretrained_weights_path(name: str) -> Path:
    """Where torchvision's ImageNet weights for ``name`` ("tv-resnet18"/"resnet18", "tv-vgg16") live."""
    weights = _tv_weights(_arch(name))
    return Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(weights.url)


def pretrained_available(name: str, weights_file: str = "") -> bool:
    """True when the ImageNet weights for ``name`` are already on this computer (``weights_file``: a
    copy the person has, used instead of the download). The shipped EfficientNet-Lite0 counts when its
    package is installed."""
    if name == "efficientnet-lite0":
        from app.models import efficientnet

        return efficientnet.available()
    if weights_file:
        return Path(weights_file).expanduser().is_file()
    return pretrained_weights_path(name).is_file()


def download_pretrained(name: str, progress: bool = True) -> Path:
    """Download torchvision's ImageNet weights for ``name`` into the torch hub cache; return the path.

    Does nothing when the file is already there. The download is checked against the hash in the
    file name and written atomically by ``torch.hub.download_url_to_file``. Without a connection
    this raises ``OfflineError`` with a plain message.
    """
    arch = _arch(name)
    url = _tv_weights(arch).url
    target = pretrained_weights_path(arch)
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    match = torch.hub.HASH_REGEX.search(target.name)
    hash_prefix = match.group(1) if match else None
    try:
        torch.hub.download_url_to_file(url, str(target), hash_prefix=hash_prefix, progress=progress)
    except (URLError, OSError):
        raise OfflineError(
            f"Could not download the ImageNet weights for {arch}: this computer seems to be offline, or "
            f"{url.split('/')[2]} cannot be reached. Connect to the internet and try again, use a weights file "
            f"you already have (the .pth from {url}), or train from scratch (efficientnet-lite0 comes with "
            f"its weights and needs no download)."
        ) from None
    except RuntimeError as exc:  # hash mismatch: a damaged or incomplete download
        raise OfflineError(
            f"The downloaded ImageNet weights for {arch} were damaged ({exc}); please try again."
        ) from None
    return target


def _load_pretrained(net: nn.Module, arch: str, weights_file: str = "") -> None:
    """Load torchvision's ImageNet weights: from ``weights_file`` (a copy the person already has, e.g.
    behind a firewall) or from the torch hub cache. Read with ``weights_only=True`` (no code runs)."""
    path = Path(weights_file).expanduser() if weights_file else pretrained_weights_path(arch)
    if not path.is_file():
        if weights_file:
            raise ModelError(f"The weights file {path} does not exist; choose the {arch} .pth file again, "
                             f"or train from scratch.")
        raise ModelError(
            f"ImageNet weights for {arch} are not on this computer (expected {path}); "
            "connect to the internet once and press Download, use a weights file you already have, "
            "or train from scratch."
        )
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
            state = state["state_dict"]
        net.load_state_dict(state)
    except Exception as exc:  # a truncated or foreign file: tell the person what to do
        what = "does not hold the ImageNet weights of " + arch if isinstance(exc, (RuntimeError, KeyError, TypeError,
                                                                                   AttributeError)) \
            else f"cannot be read ({type(exc).__name__})"
        raise ModelError(
            f"The weights file {path} {what}; "
            + ("choose torchvision's file for this model, " if weights_file else "delete it and press Download again, ")
            + "or train from scratch."
        ) from None


def _grey_conv(conv: nn.Conv2d) -> nn.Conv2d:
    """A 1-channel copy of an RGB conv: kernels summed over colour == running on grey x 3."""
    grey = nn.Conv2d(1, conv.out_channels, kernel_size=conv.kernel_size, stride=conv.stride,
                     padding=conv.padding, bias=conv.bias is not None)
    with torch.no_grad():
        grey.weight.copy_(conv.weight.sum(dim=1, keepdim=True))
        if conv.bias is not None:
            grey.bias.copy_(conv.bias)
    return grey


def _upscale_size(image_size: tuple[int, int], upscale_to: int) -> tuple[int, int] | None:
    h, w = image_size
    if upscale_to <= 0 or min(h, w) >= upscale_to:
        return None
    scale = upscale_to / min(h, w)
    return max(upscale_to, round(h * scale)), max(upscale_to, round(w * scale))


def _check_upscale(model: str, upscale_to: int) -> int:
    if upscale_to < 0:
        raise ModelError(f"upscale_to of {model} must be 0 (off) or a number of pixels, not {upscale_to}.")
    return upscale_to


@register(
    "tv-resnet18",
    "ResNet-18 from torchvision, optionally with ImageNet weights (transfer learning).",
    options={"pretrained": False, "freeze_backbone": False, "upscale_to": 64, "weights_file": ""},
    min_size=8,
    input_norm=IMAGENET_NORM,
    input_norm_when="pretrained",
    defaults={"lr": 0.01, "weight_decay": 1e-4, "batch_size": 64, "epochs": 5},
)
def build_tv_resnet18(in_channels: int, image_size: tuple[int, int], num_classes: int,
                      pretrained: bool, freeze_backbone: bool, upscale_to: int, weights_file: str) -> Classifier:
    _check_upscale("tv-resnet18", upscale_to)
    net = torchvision.models.resnet18()
    if pretrained:
        _load_pretrained(net, "resnet18", weights_file)
    if in_channels == 1:
        net.conv1 = _grey_conv(net.conv1)
    body = _resnet_body(net)
    size = _upscale_size(image_size, upscale_to)
    if size is not None:
        body = nn.Sequential(OrderedDict(
            [("upscale", nn.Upsample(size=size, mode="bilinear", align_corners=False))]
            + list(body.named_children())))
    head = nn.Linear(net.fc.in_features, num_classes)
    return TransferClassifier(body, head, net.fc.in_features, freeze_backbone)


def _build_tv_vgg(arch: str, in_channels: int, image_size: tuple[int, int], num_classes: int,
                  pretrained: bool, freeze_backbone: bool, upscale_to: int, weights_file: str = "") -> Classifier:
    """torchvision's ``vgg11`` / ``vgg16`` layer for layer (features, 7x7 adaptive average pool, three
    dense layers); the last dense layer is the fresh ``classifier_head``."""
    name = f"tv-{arch}"
    _check_upscale(name, upscale_to)
    size = _upscale_size(image_size, upscale_to) or image_size
    if min(size) < 32:
        raise ModelError(
            f"{name} needs images of at least 32x32 pixels after enlarging; with upscale_to="
            f"{upscale_to} these stay {size[0]}x{size[1]}. Set upscale_to to 32 or more."
        )
    net = getattr(torchvision.models, arch)()
    if pretrained:
        _load_pretrained(net, arch, weights_file)
    if in_channels == 1:
        net.features[0] = _grey_conv(net.features[0])
    parts: list[tuple[str, nn.Module]] = []
    if size != tuple(image_size):
        parts.append(("upscale", nn.Upsample(size=size, mode="bilinear", align_corners=False)))
    parts += [("features", net.features), ("avgpool", net.avgpool), ("flatten", nn.Flatten()),
              ("classifier", net.classifier[:6])]
    head = nn.Linear(net.classifier[6].in_features, num_classes)
    return TransferClassifier(nn.Sequential(OrderedDict(parts)), head,
                              net.classifier[6].in_features, freeze_backbone)


@register(
    "tv-vgg11",
    "VGG-11 exactly as torchvision builds it (the lessons' network: 132,863,336 parameters for 1000 "
    "classes), optionally with ImageNet weights. Large and slow.",
    options={"pretrained": False, "freeze_backbone": False, "upscale_to": 224, "weights_file": ""},
    min_size=8,
    input_norm=IMAGENET_NORM,
    input_norm_when="pretrained",
    defaults={"lr": 0.01, "weight_decay": 1e-4, "batch_size": 32, "epochs": 5},
)
def build_tv_vgg11(in_channels: int, image_size: tuple[int, int], num_classes: int,
                   pretrained: bool, freeze_backbone: bool, upscale_to: int, weights_file: str) -> Classifier:
    return _build_tv_vgg("vgg11", in_channels, image_size, num_classes, pretrained, freeze_backbone, upscale_to,
                         weights_file)


@register(
    "tv-vgg16",
    "VGG-16 from torchvision, optionally with ImageNet weights (transfer learning). Large and slow.",
    options={"pretrained": False, "freeze_backbone": False, "upscale_to": 224, "weights_file": ""},
    min_size=8,
    input_norm=IMAGENET_NORM,
    input_norm_when="pretrained",
    defaults={"lr": 0.01, "weight_decay": 1e-4, "batch_size": 32, "epochs": 5},
)
def build_tv_vgg16(in_channels: int, image_size: tuple[int, int], num_classes: int,
                   pretrained: bool, freeze_backbone: bool, upscale_to: int, weights_file: str) -> Classifier:
    return _build_tv_vgg("vgg16", in_channels, image_size, num_classes, pretrained, freeze_backbone, upscale_to,
                         weights_file)
