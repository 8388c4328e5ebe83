"""Everything that yields frames: OpenCV cameras, JPEG frames pushed over MQTT, and what a `source:` means.

    spec.py          what a configured `source:` string means (the one place; suffix lists too)
    frames.py        Frame, the FrameSource protocol, and making a driver's image usable
    capture.py       one open attempt of an OpenCV source (the reader thread)
    camera.py        Camera: the supervisor that keeps a source open and its latest frame current
    image_header.py  an image's size from its JPEG SOF or PNG IHDR, before decoding (pure)
    image_decode.py  decoding with bounded memory, refusing what libjpeg reports damaged
    jpeg_payload.py  a pushed JPEG payload accepted, or refused in one line
    frame_slot.py    the newest pushed frame, and when each MQTT message is acknowledged
    mqtt_jpeg.py     MQTTFrameSource: frames from JPEG payloads on a topic
    factory.py       a configured camera -> its frame source
"""
