"""Ready-made models: `minidl.models` (also `md.models`)."""
from .language import PromptedSentimentLM, RNNLanguageModel, SelfAttentionLM
from .linear_classifiers import LogisticRegression, Perceptron, PerceptronResult
from .vae import VAE
from .vision import VGG, ResNet, lenet5, resnet18, vgg16

__all__ = [
    "LogisticRegression", "Perceptron", "PerceptronResult", "PromptedSentimentLM", "RNNLanguageModel",
    "ResNet", "SelfAttentionLM", "VAE", "VGG", "lenet5", "resnet18", "vgg16",
]
