"""The least detector score that makes an object a fact, per kind: the facts bundles' manifest
`evidence.thresholds`, applied after the mirrored second look (scores of objects the other look
missed are halved). Chosen by `edge-captioner-convert tune-thresholds default-en` on the TUNE half
of the labelled real photos and clip frames only (36 photos, 24 frames; conversion/facts/tune.py
says the rule): person at the lowest threshold with precision >= 0.97, car at the best recall with
precision >= 0.92; dog, cat and bird at the default once the animal check (model/animal_check.py)
has refused the others (dog was 0.6 before it, above a cheetah the detector scored 0.565 as a
dog); bus at the default (one bus in the tune half).
Kinds not listed use DEFAULT_THRESHOLD. The box detector's Box (docs/box-detector.md) stays at
MediaPipe's own 0.5: at the 0.25 that passes the one real carton, 5 of 6 boxes found were false."""

DEFAULT_THRESHOLD = 0.5
THRESHOLDS: dict[str, float] = {"person": 0.55, "car": 0.25, "box": 0.5}
