"""Ready-made models: `minidl.models` (also `md.models`)."""
from .vision import VGG, ResNet, lenet5, resnet18, vgg16

__all__ = ["VGG", "ResNet", "lenet5", "resnet18", "vgg16"]
