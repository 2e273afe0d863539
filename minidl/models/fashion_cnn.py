"""The image classifier that `minidl train fashion` trains."""
from .. import nn


class FashionCNN(nn.Module):
    """Two 3x3 conv layers with ReLU and 2x2 max pooling, then a linear classifier.

    Shape: images (B, 1, 28, 28) -> logits (B, 10).
    """

    def __init__(self, channels=(32, 64), num_classes=10, dropout=0.25):
        super().__init__()
        c1, c2 = channels
        self.features = nn.Sequential(
            nn.Conv2d(1, c1, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(c1, c2, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        )
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(c2 * 7 * 7, num_classes)

    def forward(self, images):
        return self.classifier(self.dropout(self.features(images).flatten(1)))
