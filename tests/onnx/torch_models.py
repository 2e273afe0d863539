"""Models built in PyTorch and exported with torch.onnx.export (the test oracle): a ResNet-18
(torchvision's layout, written out: torchvision does not install beside the pinned torch),
a small MobileNet-style net with depthwise convolutions, an LSTM classifier and a
transformer encoder layer."""


def resnet18(torch, num_classes=1000):
    nn = torch.nn

    class BasicBlock(nn.Module):
        def __init__(self, cin, cout, stride):
            super().__init__()
            self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
            self.bn1, self.relu = nn.BatchNorm2d(cout), nn.ReLU()
            self.conv2, self.bn2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False), nn.BatchNorm2d(cout)
            self.downsample = None
            if stride != 1 or cin != cout:
                self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

        def forward(self, x):
            out = self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x)))))
            return self.relu(out + (x if self.downsample is None else self.downsample(x)))

    class ResNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1, self.bn1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64)
            self.relu, self.maxpool = nn.ReLU(), nn.MaxPool2d(3, 2, 1)
            blocks, cin = [], 64
            for cout, stride in [(64, 1), (128, 2), (256, 2), (512, 2)]:
                blocks += [BasicBlock(cin, cout, stride), BasicBlock(cout, cout, 1)]
                cin = cout
            self.layers = nn.Sequential(*blocks)
            self.avgpool, self.fc = nn.AdaptiveAvgPool2d(1), nn.Linear(512, num_classes)

        def forward(self, x):
            x = self.layers(self.maxpool(self.relu(self.bn1(self.conv1(x)))))
            return self.fc(torch.flatten(self.avgpool(x), 1))

    return ResNet()


def mobile_net(torch):
    nn = torch.nn

    class MobileNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.features = nn.Sequential(
                nn.Conv2d(3, 8, 3, 2, 1), nn.BatchNorm2d(8), nn.ReLU6(),
                nn.Conv2d(8, 8, 3, 1, 1, groups=8), nn.BatchNorm2d(8), nn.ReLU6(),  # depthwise
                nn.Conv2d(8, 16, 1), nn.ReLU(),  # pointwise
            )
            self.head = nn.Linear(16, 5)

        def forward(self, x):
            return self.head(self.features(x).mean((2, 3)))

    return MobileNet()


def lstm_classifier(torch):
    nn = torch.nn

    class LSTMClassifier(nn.Module):
        def __init__(self):
            super().__init__()
            self.embedding = nn.Embedding(20, 8)
            self.lstm = nn.LSTM(8, 12, batch_first=True, bidirectional=True)
            self.fc = nn.Linear(24, 3)

        def forward(self, ids):
            out, _ = self.lstm(self.embedding(ids))
            return self.fc(out[:, -1])

    return LSTMClassifier()


def encoder_layer(torch):
    nn = torch.nn

    class Encoder(nn.Module):
        def __init__(self):
            super().__init__()
            self.layer = nn.TransformerEncoderLayer(16, 4, 32, dropout=0.0, batch_first=True)

        def forward(self, x):  # is_causal given: the TorchScript exporter fails to trace it when left to infer
            return self.layer(x, is_causal=False)

    return Encoder()
