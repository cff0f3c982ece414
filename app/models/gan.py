"""GAN models: a DCGAN that adapts to the image size and channels, and the small fully-connected GAN.

Both are registered with ``task="gan"``. ``build_model(name, in_channels, image_size, num_classes)``
returns a ``GanPair`` holding ``.generator`` (latent ``(B, latent_dim)`` -> images ``(B, C, H, W)``
in [-1, 1]) and ``.discriminator`` (images -> one raw logit per image, ``(B,)``; train it with
``binary_cross_entropy_with_logits``). ``num_classes`` is ignored (the GANs are unconditional).

DCGAN (Radford et al. 2016) shapes, for an image side ``S = s0 * 2**k`` with ``s0`` in 4..7:

* generator: ``ConvTranspose(latent -> w*2**(k-1), s0x s0)`` from a 1x1 map, then ``k-1`` up-sampling
  blocks ``ConvTranspose(4, stride 2) + BatchNorm + ReLU`` halving the width, and a last
  ``ConvTranspose(4, stride 2)`` to ``C`` channels with ``tanh``. 28x28 -> 7, 14, 28;
  32x32 -> 4, 8, 16, 32; 64x64 -> 4, 8, 16, 32, 64.
* discriminator: the mirror image: ``Conv(4, stride 2) + LeakyReLU(0.2)`` (no batch norm on the
  first), then ``Conv(4, stride 2) + BatchNorm + LeakyReLU`` doubling the width, and a last
  ``Conv(s0 x s0)`` to one logit.
* weights initialised as in the paper: N(0, 0.02) for convolutions, N(1, 0.02) for batch-norm scales.

The fully-connected GAN is the one of the classic MNIST GAN tutorials: generator
``latent -> 256 -> 512 -> 1024 -> C*H*W`` (LeakyReLU 0.2, tanh), discriminator
``C*H*W -> 1024 -> 512 -> 256 -> 1`` (LeakyReLU 0.2, dropout 0.3).
"""
from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

from app.core.errors import ModelError
from app.models.registry import register

GAN_DEFAULTS = {"optimizer": "adam", "lr": 2e-4, "batch_size": 128, "epochs": 10, "schedule": "none",
                "weight_decay": 0.0}


class GanPair(nn.Module):
    """A generator and its discriminator, built for one image shape."""

    def __init__(self, generator: nn.Module, discriminator: nn.Module, latent_dim: int,
                 image_shape: tuple[int, int, int]) -> None:
        super().__init__()
        self.generator = generator
        self.discriminator = discriminator
        self.latent_dim = int(latent_dim)
        self.image_shape = tuple(int(v) for v in image_shape)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """For the layer summary: the generator on a zero latent batch the size of ``x``, and the
        discriminator's logits for ``x``."""
        z = x.new_zeros(x.shape[0], self.latent_dim)
        return self.generator(z), self.discriminator(x)


class DCGenerator(nn.Module):
    def __init__(self, latent_dim: int, channels: int, side: int, width: int) -> None:
        super().__init__()
        s0, k = _dcgan_plan(side)
        self.latent_dim = int(latent_dim)
        self.image_shape = (int(channels), int(side), int(side))
        w = width * 2 ** (k - 1)
        layers: OrderedDict[str, nn.Module] = OrderedDict()
        layers["project"] = nn.ConvTranspose2d(latent_dim, w, s0, 1, 0, bias=False)
        layers["bn0"] = nn.BatchNorm2d(w)
        layers["relu0"] = nn.ReLU(inplace=True)
        for i in range(1, k):
            layers[f"up{i}"] = nn.ConvTranspose2d(w, w // 2, 4, 2, 1, bias=False)
            layers[f"bn{i}"] = nn.BatchNorm2d(w // 2)
            layers[f"relu{i}"] = nn.ReLU(inplace=True)
            w //= 2
        layers[f"up{k}"] = nn.ConvTranspose2d(w, channels, 4, 2, 1, bias=False)
        layers["tanh"] = nn.Tanh()
        self.net = nn.Sequential(layers)
        _dcgan_init(self)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z.view(z.shape[0], self.latent_dim, 1, 1))


class DCDiscriminator(nn.Module):
    def __init__(self, channels: int, side: int, width: int) -> None:
        super().__init__()
        s0, k = _dcgan_plan(side)
        layers: OrderedDict[str, nn.Module] = OrderedDict()
        layers["down1"] = nn.Conv2d(channels, width, 4, 2, 1, bias=False)
        layers["lrelu1"] = nn.LeakyReLU(0.2, inplace=True)
        w = width
        for i in range(2, k + 1):
            layers[f"down{i}"] = nn.Conv2d(w, w * 2, 4, 2, 1, bias=False)
            layers[f"bn{i}"] = nn.BatchNorm2d(w * 2)
            layers[f"lrelu{i}"] = nn.LeakyReLU(0.2, inplace=True)
            w *= 2
        layers["logit"] = nn.Conv2d(w, 1, s0, 1, 0, bias=False)
        self.net = nn.Sequential(layers)
        _dcgan_init(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).view(-1)


class FCGenerator(nn.Module):
    def __init__(self, latent_dim: int, image_shape: tuple[int, int, int], hidden: int) -> None:
        super().__init__()
        self.latent_dim = int(latent_dim)
        self.image_shape = tuple(int(v) for v in image_shape)
        d = self.image_shape[0] * self.image_shape[1] * self.image_shape[2]
        self.net = nn.Sequential(OrderedDict([
            ("fc1", nn.Linear(latent_dim, hidden)), ("lrelu1", nn.LeakyReLU(0.2, inplace=True)),
            ("fc2", nn.Linear(hidden, hidden * 2)), ("lrelu2", nn.LeakyReLU(0.2, inplace=True)),
            ("fc3", nn.Linear(hidden * 2, hidden * 4)), ("lrelu3", nn.LeakyReLU(0.2, inplace=True)),
            ("fc4", nn.Linear(hidden * 4, d)), ("tanh", nn.Tanh()),
        ]))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z).view(z.shape[0], *self.image_shape)


class FCDiscriminator(nn.Module):
    def __init__(self, image_shape: tuple[int, int, int], hidden: int, dropout: float) -> None:
        super().__init__()
        d = image_shape[0] * image_shape[1] * image_shape[2]
        self.net = nn.Sequential(OrderedDict([
            ("flatten", nn.Flatten()),
            ("fc1", nn.Linear(d, hidden * 4)), ("lrelu1", nn.LeakyReLU(0.2, inplace=True)), ("drop1", nn.Dropout(dropout)),
            ("fc2", nn.Linear(hidden * 4, hidden * 2)), ("lrelu2", nn.LeakyReLU(0.2, inplace=True)), ("drop2", nn.Dropout(dropout)),
            ("fc3", nn.Linear(hidden * 2, hidden)), ("lrelu3", nn.LeakyReLU(0.2, inplace=True)), ("drop3", nn.Dropout(dropout)),
            ("logit", nn.Linear(hidden, 1)),
        ]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).view(-1)


def _dcgan_plan(side: int) -> tuple[int, int]:
    """(s0, k) with side == s0 * 2**k, 4 <= s0 <= 7, k >= 2; ModelError when there is none."""
    s, k = int(side), 0
    while s > 7 and s % 2 == 0:
        s //= 2
        k += 1
    if not (4 <= s <= 7) or k < 2:
        raise ModelError(f"The DCGAN works with square images of 16 to 224 pixels whose side halves down to "
                         f"4-7 pixels (e.g. 28, 32 or 64); these are {side}x{side}. Choose an image size of 28, "
                         f"32 or 64.")
    return s, k


def _dcgan_init(module: nn.Module) -> None:
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0.0, 0.02)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


def _check_latent(model: str, latent_dim: int) -> None:
    if not 1 <= latent_dim <= 4096:
        raise ModelError(f"The latent size of {model} must be between 1 and 4096, not {latent_dim}.")


@register(
    "dcgan",
    "DCGAN: a convolutional generator and discriminator with batch norm (28x28, 32x32 or 64x64 images).",
    task="gan",
    options={"latent_dim": 100, "g_width": 64, "d_width": 64},
    defaults=GAN_DEFAULTS,
    min_size=16,
    max_size=224,
)
def build_dcgan(in_channels: int, image_size: tuple[int, int], num_classes: int,
                latent_dim: int, g_width: int, d_width: int) -> GanPair:
    h, w = image_size
    if h != w:
        raise ModelError(f"The DCGAN needs square images; these are {h}x{w}. Choose a square image size.")
    _check_latent("dcgan", latent_dim)
    if g_width < 2 or d_width < 2:
        raise ModelError("The widths of the DCGAN's generator and discriminator must be at least 2.")
    _dcgan_plan(h)
    return GanPair(DCGenerator(latent_dim, in_channels, h, g_width), DCDiscriminator(in_channels, h, d_width),
                   latent_dim, (in_channels, h, w))


@register(
    "fc-gan",
    "Fully-connected GAN of the classic tutorials: dense layers of 256, 512 and 1024 units.",
    task="gan",
    options={"latent_dim": 100, "hidden": 256, "dropout": 0.3},
    defaults=GAN_DEFAULTS,
    min_size=4,
    max_size=64,
)
def build_fc_gan(in_channels: int, image_size: tuple[int, int], num_classes: int,
                 latent_dim: int, hidden: int, dropout: float) -> GanPair:
    _check_latent("fc-gan", latent_dim)
    if hidden < 1:
        raise ModelError(f"The hidden layers of fc-gan need at least 1 unit, not {hidden}.")
    if not 0.0 <= dropout < 1.0:
        raise ModelError(f"The dropout of fc-gan must be between 0 and 1, not {dropout}.")
    shape = (in_channels, image_size[0], image_size[1])
    return GanPair(FCGenerator(latent_dim, shape, hidden), FCDiscriminator(shape, hidden, dropout), latent_dim, shape)


__all__ = ["GanPair", "DCGenerator", "DCDiscriminator", "FCGenerator", "FCDiscriminator", "build_dcgan",
           "build_fc_gan", "GAN_DEFAULTS"]
