"""The render-trained CNN-LSTM: `train` on rendered synthetic scenes, with its scene heads' targets."""
