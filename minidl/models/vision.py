"""Classic image networks built from minidl layers: LeNet-5, VGG-16, ResNet-18.

Layouts follow the papers (and torchvision's names for VGG and ResNet), so the
parameter and MAC counts can be checked against the published figures.
"""
from .. import nn


def lenet5(num_classes=10):
    """LeCun et al. (1998) on 1x32x32 inputs: 61,706 parameters.

    Shape: (N, 1, 32, 32) -> (N, num_classes).
    """
    return nn.Sequential(
        nn.Conv2d(1, 6, 5), nn.Tanh(), nn.AvgPool2d(2),
        nn.Conv2d(6, 16, 5), nn.Tanh(), nn.AvgPool2d(2),
        nn.Flatten(),
        nn.Linear(16 * 5 * 5, 120), nn.Tanh(),
        nn.Linear(120, 84), nn.Tanh(),
        nn.Linear(84, num_classes),
    )


_VGG16 = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]


class VGG(nn.Module):
    """Simonyan & Zisserman (2015), configuration D (VGG-16): 138,357,544 parameters.

    Shape: (N, 3, 224, 224) -> (N, num_classes).
    """

    def __init__(self, config=_VGG16, num_classes=1000, dropout=0.5):
        super().__init__()
        layers, channels = [], 3
        for item in config:
            if item == "M":
                layers.append(nn.MaxPool2d(2))
            else:
                layers += [nn.Conv2d(channels, item, 3, padding=1), nn.ReLU()]
                channels = item
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
        self.classifier = nn.Sequential(
            nn.Linear(512 * 7 * 7, 4096), nn.ReLU(), nn.Dropout(dropout),
            nn.Linear(4096, 4096), nn.ReLU(), nn.Dropout(dropout),
            nn.Linear(4096, num_classes),
        )

    def forward(self, x):
        return self.classifier(self.avgpool(self.features(x)).flatten(1))


def vgg16(num_classes=1000):
    return VGG(_VGG16, num_classes)


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with a skip connection (projected when the shape changes)."""

    def __init__(self, in_channels, channels, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, channels, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.relu = nn.ReLU()
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)
        self.downsample = None
        if stride != 1 or in_channels != channels:
            self.downsample = nn.Sequential(nn.Conv2d(in_channels, channels, 1, stride=stride, bias=False), nn.BatchNorm2d(channels))

    def forward(self, x):
        skip = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        return self.relu(self.bn2(self.conv2(out)) + skip)


class ResNet(nn.Module):
    """He et al. (2016) with basic blocks; [2, 2, 2, 2] is ResNet-18: 11,689,512 parameters.

    `stem="cifar"` is the usual variant for 32x32 images (a 3x3 convolution, no max pool).
    Shape: (N, 3, 224, 224), or (N, 3, 32, 32) with the CIFAR stem -> (N, num_classes).
    """

    def __init__(self, blocks=(2, 2, 2, 2), num_classes=1000, stem="imagenet"):
        super().__init__()
        if stem not in ("imagenet", "cifar"):
            raise ValueError(f"ResNet: stem must be 'imagenet' or 'cifar'; got {stem!r}")
        if stem == "imagenet":  # 7x7 stride 2, then 3x3 max pool stride 2: 224 -> 56
            self.conv1 = nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False)
            self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        else:  # small images: 3x3 stride 1 and no pool, so 32x32 stays 32x32 into the first stage
            self.conv1 = nn.Conv2d(3, 64, 3, stride=1, padding=1, bias=False)
            self.maxpool = nn.Identity()
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU()
        channels = 64
        for i, (count, width) in enumerate(zip(blocks, (64, 128, 256, 512)), start=1):
            stage = [BasicBlock(channels, width, stride=1 if i == 1 else 2)]
            stage += [BasicBlock(width, width) for _ in range(count - 1)]
            setattr(self, f"layer{i}", nn.Sequential(*stage))
            channels = width
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512, num_classes)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(self.avgpool(x).flatten(1))


def resnet18(num_classes=1000):
    return ResNet((2, 2, 2, 2), num_classes)


def resnet18_cifar(num_classes=10):
    """ResNet-18 with the CIFAR stem: 11,173,962 parameters for 10 classes. Shape: (N, 3, 32, 32) -> (N, 10)."""
    return ResNet((2, 2, 2, 2), num_classes, stem="cifar")
