"""The Keras captioning network: backbones, scene heads, decoders, and its float twin in numpy."""
