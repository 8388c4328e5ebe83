"""Frame to caption, with no threads and no MQTT: runtime, preprocessing, perception, evidence, search.

    runtime.py       which TFLite runtime and delegate; graphs checked against the manifest
    preprocess.py    an OpenCV frame -> the model's input image
    detections.py    the detector's outputs -> scored boxes
    perception.py    what the real-world detector and classifier find (Findings)
    evidence.py      the findings as the grounded decoder's input vector
    search.py        greedy and beam search over a one-step decoder
    self_check.py    a bundle's self-check at load
    captioner.py     Captioner: the bundle's graphs and the search around them
    explain.py       where the attention decoder looked for each word
"""
