"""The outdoor places: front door, driveway and backyard, under a sky.

Each place draws on a canvas of size (H, W) and returns its spots and lights in canvas pixels,
plus "rough" rectangles (x0, y0, x1, y1, amplitude) where the surface gets grain (lawn, asphalt).
"""

from __future__ import annotations

import cv2

from .draw import AA, ipt, jitter, line, pick, poly, rect, shade, uniform, vgradient, window

_SKY_DAY = ((225, 165, 110), (240, 218, 195))
_SKY_NIGHT = ((38, 20, 10), (62, 38, 26))


def _sky(img, rng, y1, lighting) -> None:
    W = img.shape[1]
    top, bottom = _SKY_DAY if lighting == "day" else _SKY_NIGHT
    vgradient(img, 0, y1, jitter(rng, top, 10), jitter(rng, bottom, 10))
    if lighting == "day":
        # A few soft clouds so the sky is not a flat gradient.
        for _ in range(int(rng.integers(0, 4))):
            cx, cy = uniform(rng, 0, W), uniform(rng, 0.1, 0.7) * y1
            for k in range(3):
                cv2.ellipse(img, ipt(cx + k * 0.05 * W, cy - (k % 2) * 0.02 * W),
                            ipt(0.06 * W, 0.025 * W), 0, 0, 360, (245, 243, 240), -1, AA)


def front_door(img, rng, lighting):
    H, W = img.shape[:2]
    wall = jitter(rng, pick(rng, ((200, 215, 225), (198, 198, 192), (205, 188, 160),
                                     (165, 205, 225), (150, 165, 178), (70, 85, 150))))
    porch_y = uniform(rng, 0.74, 0.8) * H
    img[:] = wall
    # Siding boards: horizontal lines give the wall its texture.
    step = uniform(rng, 0.035, 0.05) * H
    y = uniform(rng, 0, step)
    line_colour = shade(wall, 0.84)
    while y < porch_y:
        line(img, (0, y), (W, y), line_colour, 1)
        y += step
    porch = jitter(rng, pick(rng, ((150, 155, 160), (75, 105, 140), (85, 115, 170),
                                      (120, 125, 128))))
    vgradient(img, porch_y, H, shade(porch, 0.9), shade(porch, 1.08))
    line(img, (0, porch_y), (W, porch_y), shade(porch, 0.7), max(1, 0.008 * H))

    door_w = uniform(rng, 0.2, 0.25) * H
    door_h = uniform(rng, 0.6, 0.66) * H
    left_door = rng.random() < 0.5
    door_cx = (uniform(rng, 0.3, 0.42) if left_door else uniform(rng, 0.58, 0.7)) * W
    dx0, dx1 = door_cx - door_w / 2, door_cx + door_w / 2
    dy0 = porch_y - door_h
    trim = jitter(rng, pick(rng, ((240, 240, 238), (225, 232, 236), (60, 60, 62))), 6)
    tw = 0.025 * H
    rect(img, dx0 - tw, dy0 - tw, dx1 + tw, porch_y, trim)
    door = jitter(rng, pick(rng, ((40, 35, 130), (50, 80, 40), (85, 48, 30), (236, 236, 234),
                                     (40, 72, 115), (36, 36, 38), (130, 105, 55))))
    rect(img, dx0, dy0, dx1, porch_y, door)
    # Inset panels and the knob make it a door rather than a dark rectangle.
    panel = shade(door, 0.8)
    pw, ph = door_w * 0.32, door_h * 0.36
    for px in (dx0 + door_w * 0.12, dx1 - door_w * 0.12 - pw):
        for py in (dy0 + door_h * 0.07, dy0 + door_h * 0.52):
            rect(img, px, py, px + pw, py + ph, panel, max(1, int(0.006 * H)))
    knob_x = dx1 - door_w * 0.13 if left_door else dx0 + door_w * 0.13
    cv2.circle(img, ipt(knob_x, dy0 + door_h * 0.5), max(2, int(0.014 * H)), (60, 175, 215), -1,
               AA)
    # Steps down from the porch across the whole front: a full-width band cannot pass for a box.
    sy = uniform(rng, 0.9, 0.93) * H
    rect(img, 0, sy, W, sy + 0.03 * H, shade(porch, 0.72))
    rect(img, 0, sy + 0.03 * H, W, H, shade(porch, 1.05))
    line(img, (0, sy), (W, sy), shade(porch, 1.2), max(1, 0.006 * H))
    # Doormat.
    mat = jitter(rng, pick(rng, ((40, 60, 90), (50, 50, 52), (35, 45, 70))))
    mat_y0, mat_y1 = porch_y + 0.01 * H, porch_y + 0.05 * H
    poly(img, [(dx0 + 0.1 * door_w, mat_y0), (dx1 - 0.1 * door_w, mat_y0),
                (dx1 - 0.02 * door_w, mat_y1), (dx0 + 0.02 * door_w, mat_y1)], mat)

    # Porch light on the wall beside the door, usually on the side away from the porch spot.
    side = (-1 if left_door else 1) * (1 if rng.random() < 0.7 else -1)
    lx = (dx1 + tw + 0.06 * H) if side > 0 else (dx0 - tw - 0.06 * H)
    ly = dy0 + 0.1 * H
    rect(img, lx - 0.018 * H, ly - 0.045 * H, lx + 0.018 * H, ly + 0.04 * H, (30, 30, 32))
    glass = (200, 240, 255) if lighting == "lights_on" else (150, 185, 200)
    cv2.ellipse(img, ipt(lx, ly), ipt(0.012 * H, 0.03 * H), 0, 0, 360, glass, -1, AA)

    # Window on the porch side of the door, above where porch objects stand.
    win_w, win_h = uniform(rng, 0.18, 0.24) * H, uniform(rng, 0.2, 0.26) * H
    if left_door:
        wx0 = min(W - win_w - 0.04 * H, dx1 + tw + uniform(rng, 0.16, 0.24) * H)
    else:
        wx0 = max(0.04 * H, dx0 - tw - uniform(rng, 0.16, 0.24) * H - win_w)
    wy0 = dy0 + uniform(rng, 0.02, 0.08) * H
    window(img, rng, wx0, wy0, wx0 + win_w, wy0 + win_h, lighting, trim, indoor=False)

    margin = 0.03 * W
    door_spot = (dx0 - 0.04 * H, dx1 + 0.04 * H)
    porch_spot = (dx1 + tw + 0.02 * H, W - margin) if left_door else (margin, dx0 - tw - 0.02 * H)
    door_scale = uniform(rng, 0.56, 0.62)
    spots = {
        "door": (door_spot[0], door_spot[1], porch_y + uniform(rng, 0.07, 0.09) * H, door_scale),
        # A little nearer the camera than the door, so a little larger.
        "porch": (porch_spot[0], porch_spot[1], porch_y + uniform(rng, 0.1, 0.12) * H,
                  door_scale * uniform(rng, 1.0, 1.04)),
    }
    rough = [(0, porch_y, W, H, 0.04), (0, 0, W, porch_y, 0.015)]
    return spots, [(lx, ly)], rough


def driveway(img, rng, lighting):
    H, W = img.shape[:2]
    horizon = uniform(rng, 0.2, 0.28) * H
    ground_y = uniform(rng, 0.56, 0.62) * H
    _sky(img, rng, ground_y, lighting)
    # Far hedge / trees along the horizon so the ground does not meet the sky directly.
    hedge = jitter(rng, (45, 95, 50), 10)
    for _ in range(7):
        cx = uniform(rng, 0, W)
        cv2.ellipse(img, ipt(cx, ground_y - 0.08 * H), ipt(uniform(rng, 0.08, 0.15) * W, 0.12 * H), 0,
                    0, 360, shade(hedge, uniform(rng, 0.8, 1.15)), -1, AA)
    grass = jitter(rng, (60, 140, 75), 12)
    vgradient(img, ground_y, H, shade(grass, 0.85), shade(grass, 1.1))

    # Garage building with a pitched roof.
    gw = uniform(rng, 0.5, 0.62) * W
    garage_left = rng.random() < 0.5
    gx0 = uniform(rng, 0.0, 0.08) * W if garage_left else W - gw - uniform(rng, 0.0, 0.08) * W
    gx1 = gx0 + gw
    wall = jitter(rng, pick(rng, ((200, 215, 225), (198, 198, 192), (205, 188, 160),
                                     (70, 85, 150), (150, 165, 178))))
    eave = horizon + 0.06 * H
    rect(img, gx0, eave, gx1, ground_y, wall)
    roof = jitter(rng, pick(rng, ((60, 60, 65), (50, 60, 110), (80, 80, 75))))
    ridge = horizon - 0.08 * H
    poly(img, [(gx0 - 0.03 * W, eave), (gx1 + 0.03 * W, eave), (gx1 - 0.12 * W, ridge),
                (gx0 + 0.12 * W, ridge)], roof)
    door_w = gw * uniform(rng, 0.68, 0.8)
    gd0 = gx0 + (gw - door_w) / 2
    gd1 = gd0 + door_w
    gdy = ground_y - uniform(rng, 0.27, 0.31) * H
    trim = (235, 235, 235)
    rect(img, gd0 - 0.015 * H, gdy - 0.015 * H, gd1 + 0.015 * H, ground_y, trim)
    gdoor = jitter(rng, pick(rng, ((225, 228, 230), (170, 170, 168), (60, 90, 130),
                                      (90, 90, 92))))
    rect(img, gd0, gdy, gd1, ground_y, gdoor)
    n_panels = int(rng.integers(4, 6))
    for i in range(1, n_panels):
        y = gdy + i * (ground_y - gdy) / n_panels
        line(img, (gd0, y), (gd1, y), shade(gdoor, 0.72), max(1, 0.008 * H))
    # Flood light above the garage door.
    lx, ly = (gd0 + gd1) / 2 + uniform(rng, -0.2, 0.2) * door_w, gdy - 0.05 * H
    rect(img, lx - 0.025 * H, ly - 0.012 * H, lx + 0.025 * H, ly + 0.012 * H, (30, 30, 32))
    cv2.ellipse(img, ipt(lx, ly + 0.012 * H), ipt(0.02 * H, 0.01 * H), 0, 0, 180,
                (200, 240, 255) if lighting == "lights_on" else (150, 160, 170), -1, AA)

    # Drive surface widening towards the camera.
    drive = jitter(rng, pick(rng, ((160, 162, 165), (85, 85, 88), (120, 125, 130))))
    spread = uniform(rng, 0.15, 0.3) * W
    pts = [(gd0 - 0.02 * W, ground_y), (gd1 + 0.02 * W, ground_y), (gd1 + spread, H),
           (gd0 - spread, H)]
    poly(img, pts, drive)
    line(img, pts[1], pts[2], shade(drive, 0.75), max(1, 0.008 * H))
    line(img, pts[0], pts[3], shade(drive, 0.75), max(1, 0.008 * H))
    # Expansion joints in concrete.
    y = ground_y + 0.12 * H
    while y < H:
        t = (y - ground_y) / (H - ground_y)
        line(img, (gd0 - 0.02 * W - t * (spread - 0.02 * W), y),
              (gd1 + 0.02 * W + t * (spread - 0.02 * W), y), shade(drive, 0.85), 1)
        y += 0.12 * H * (1 + t)

    drive_spot_x = (max(0.02 * W, gd0 - spread * 0.8), min(0.98 * W, gd1 + spread * 0.8))
    spots = {
        "driveway": (drive_spot_x[0], drive_spot_x[1], uniform(rng, 0.88, 0.93) * H,
                     uniform(rng, 0.48, 0.54)),
        # In front of the garage door or beside it.
        "garage": (max(0.02 * W, gx0 - 0.08 * W), min(0.98 * W, gx1 + 0.08 * W),
                   ground_y + 0.04 * H, uniform(rng, 0.36, 0.4)),
    }
    rough = [(0, ground_y, W, H, 0.06), (0, 0, W, ground_y, 0.01)]
    return spots, [(lx, ly + 0.01 * H)], rough


def backyard(img, rng, lighting):
    H, W = img.shape[:2]
    fence_top = uniform(rng, 0.28, 0.36) * H
    fence_bottom = uniform(rng, 0.55, 0.6) * H
    _sky(img, rng, fence_bottom, lighting)
    # Tree behind the fence: trunk and a canopy of overlapping blobs.
    tree_x = (uniform(rng, 0.08, 0.3) if rng.random() < 0.5 else uniform(rng, 0.7, 0.92)) * W
    leaf = jitter(rng, pick(rng, ((50, 110, 45), (40, 90, 60), (60, 125, 80))), 10)
    line(img, (tree_x, fence_top - 0.1 * H), (tree_x, fence_bottom), (40, 60, 80), 0.035 * H)
    crown_y = fence_top - uniform(rng, 0.1, 0.16) * H
    for _ in range(6):
        cv2.ellipse(img, ipt(tree_x + uniform(rng, -0.1, 0.1) * H, crown_y + uniform(rng, -0.07, 0.05) * H),
                    ipt(uniform(rng, 0.07, 0.12) * H, uniform(rng, 0.06, 0.1) * H), 0, 0, 360,
                    shade(leaf, uniform(rng, 0.8, 1.2)), -1, AA)
    # Wooden fence: planks, gaps, two rails.
    wood = jitter(rng, pick(rng, ((60, 100, 140), (120, 135, 145), (225, 228, 230),
                                     (50, 80, 115))))
    rect(img, 0, fence_top, W, fence_bottom, wood)
    plank = uniform(rng, 0.04, 0.06) * W
    x = uniform(rng, 0, plank)
    gap_col = shade(wood, 0.6)
    while x < W:
        line(img, (x, fence_top), (x, fence_bottom), gap_col, 1)
        # Pointed plank tops.
        poly(img, [(x, fence_top), (x + plank, fence_top), (x + plank / 2, fence_top -
                                                                 0.025 * H)], wood)
        x += plank
    for ry in (0.25, 0.75):
        y = fence_top + ry * (fence_bottom - fence_top)
        line(img, (0, y), (W, y), shade(wood, 0.8), max(1, 0.012 * H))
    # Soil strip and lawn.
    rect(img, 0, fence_bottom - 0.01 * H, W, fence_bottom + 0.02 * H, (40, 55, 75))
    grass = jitter(rng, pick(rng, ((55, 145, 70), (60, 130, 90), (70, 155, 110))), 10)
    vgradient(img, fence_bottom + 0.02 * H, H, shade(grass, 0.8), shade(grass, 1.12))
    bush_x = None
    if rng.random() < 0.5:
        # A bush in front of the fence at one edge.
        bush_x = 0.06 * W if tree_x > W / 2 else 0.94 * W
        for _ in range(4):
            cv2.ellipse(img, ipt(bush_x + uniform(rng, -0.06, 0.06) * W,
                                  fence_bottom - uniform(rng, 0.0, 0.06) * H),
                        ipt(uniform(rng, 0.05, 0.08) * W, uniform(rng, 0.05, 0.08) * H), 0, 0, 360,
                        shade(leaf, uniform(rng, 0.75, 1.1)), -1, AA)
    fx0, fx1 = 0.04 * W, 0.96 * W
    if bush_x is not None:
        fx0, fx1 = (0.16 * W, fx1) if bush_x < W / 2 else (fx0, 0.84 * W)
    spots = {
        "lawn": (0.03 * W, 0.97 * W, uniform(rng, 0.86, 0.93) * H, uniform(rng, 0.56, 0.62)),
        "fence": (fx0, fx1, fence_bottom + 0.03 * H, uniform(rng, 0.36, 0.4)),
    }
    rough = [(0, fence_bottom, W, H, 0.08), (0, fence_top, W, fence_bottom, 0.03)]
    # Flood light on the house wall above the camera: outside the frame, lighting the lawn.
    light = (uniform(rng, 0.2, 0.8) * W, -0.15 * H)
    return spots, [light], rough
