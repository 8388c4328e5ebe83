"""edge-captioner: on-device image captioning for smart homes.

The device runtime. It imports numpy, cv2, paho-mqtt, yaml and a TFLite interpreter only, never
tensorflow (the workstation toolkit lives in the separate `conversion` package).
"""

__version__ = "0.1.0"
