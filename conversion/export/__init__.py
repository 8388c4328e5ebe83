"""From a trained model to a bundle: int8 conversion, its checks and agreement, and the way back."""
