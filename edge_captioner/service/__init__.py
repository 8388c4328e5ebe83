"""The daemon: per camera, frames -> gate -> captioner -> the caption event and its publish rule.

    daemon.py         the daemon: wires cameras, captioner and MQTT together until told to stop
    worker.py         one camera's caption loop (CameraWorker), behind Protocols for its collaborators
    gate.py           the scene-change gate
    caption_event.py  CaptionEvent (the payload) and the publish decision
    pool.py           the order fence when several daemons share a camera
    notify.py         systemd notifications and the watchdog
"""
