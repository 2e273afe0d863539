"""Ready-made models: `minidl.models` (also `md.models`)."""
from .checkpoint import load
from .language import PromptedSentimentLM, RNNLanguageModel, SelfAttentionLM
from .tasks import CharTransformer, FashionCNN, SentimentClassifier
from .linear_classifiers import LogisticRegression, Perceptron, PerceptronResult
from .vae import VAE
from .vision import VGG, ResNet, lenet5, resnet18, vgg16

__all__ = [
    "CharTransformer", "FashionCNN", "LogisticRegression", "Perceptron", "PerceptronResult", "PromptedSentimentLM", "RNNLanguageModel",
    "ResNet", "SelfAttentionLM", "SentimentClassifier", "load", "VAE", "VGG", "lenet5", "resnet18", "vgg16",
]
