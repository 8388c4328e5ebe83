"""The synthetic world: home scenes, their en/zh captions and their reader, the renderer, `synth`."""
