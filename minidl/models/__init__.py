"""Ready-made models, Modules only: `minidl.models` (also `md.models`). Loading a trained
checkpoint folder is application code: `minidl.train.load(DIR)`."""
from .language import PromptedSentimentLM, RNNLanguageModel, SelfAttentionLM
from .char_transformer import CharTransformer
from .fashion_cnn import FashionCNN
from .sentiment import SentimentClassifier
from .linear_classifiers import LogisticRegression, Perceptron, PerceptronResult
from .vae import VAE
from .vision import VGG, ResNet, lenet5, resnet18, resnet18_cifar, vgg16

__all__ = [
    "CharTransformer", "FashionCNN", "LogisticRegression", "Perceptron", "PerceptronResult", "PromptedSentimentLM", "RNNLanguageModel",
    "ResNet", "SelfAttentionLM", "SentimentClassifier", "VAE", "VGG", "lenet5", "resnet18", "resnet18_cifar", "vgg16",
]
