"""The bundle format, the one contract with the toolkit: manifest, tensors, wiring, vocabulary, loader.

    choices.py             every name and list of choices (files, keys, tensors, resize modes, runtimes)
    manifest.py            Manifest: from_json (validation, one-line BadInput) and to_json (as written)
    tensors.py             the image and tensor sections (what the graphs take and give, by name)
    perception_section.py  the real-world encoder's section, validated (detector, classifier, boxes, pose)
    perception_specs.py    its types
    sections.py            evidence, pretrained provenance, self-check
    wiring.py              the decoder section: how the two graphs connect
    vocab.py               the caption vocabulary
    loader.py              a bundle directory -> Bundle (files checked, manifest read, built-in names)
"""
