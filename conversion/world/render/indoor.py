"""The indoor places: living room and kitchen.

Each place draws on a canvas of size (H, W) and returns its spots and lights in canvas pixels,
plus "rough" rectangles (x0, y0, x1, y1, amplitude) where the surface gets grain (lawn, asphalt).
"""

from __future__ import annotations

import cv2

from .draw import AA, ipt, jitter, line, pick, poly, rect, shade, tint, uniform, vgradient, window


def living_room(img, rng, lighting):
    H, W = img.shape[:2]
    wall = jitter(rng, pick(rng, ((200, 222, 232), (200, 200, 198), (180, 205, 185),
                                     (215, 200, 170), (150, 175, 205), (225, 225, 220))))
    floor_y = uniform(rng, 0.6, 0.66) * H
    vgradient(img, 0, floor_y, shade(wall, 0.92), wall)
    wood = rng.random() < 0.6
    floor = jitter(rng, pick(rng, ((50, 90, 140), (70, 115, 160), (40, 65, 95))) if wood else
                    pick(rng, ((150, 150, 148), (120, 130, 150), (90, 90, 100))))
    vgradient(img, floor_y, H, shade(floor, 0.85), shade(floor, 1.1))
    if wood:
        # Plank seams, closer together further back.
        y, gap = floor_y, 0.025 * H
        while y < H:
            line(img, (0, y), (W, y), shade(floor, 0.78), 1)
            gap *= 1.25
            y += gap
    rect(img, 0, floor_y - 0.02 * H, W, floor_y, (235, 238, 240))  # skirting board

    sofa_w = uniform(rng, 0.5, 0.62) * W
    sofa_x0 = uniform(rng, 0.03, 0.97) * (W - sofa_w)
    sofa_x1 = sofa_x0 + sofa_w
    sofa_bottom = floor_y + uniform(rng, 0.09, 0.12) * H
    seat_y = sofa_bottom - uniform(rng, 0.12, 0.14) * H
    back_top = seat_y - uniform(rng, 0.15, 0.18) * H
    arm_w = uniform(rng, 0.05, 0.07) * W

    # Window on the wall, on the side with more room, else behind the sofa.
    win_w, win_h = uniform(rng, 0.2, 0.28) * W, uniform(rng, 0.24, 0.3) * H
    room_left, room_right = sofa_x0, W - sofa_x1
    if max(room_left, room_right) > win_w + 0.12 * W:
        if room_left > room_right:
            wx0 = (room_left - win_w) / 2
        else:
            wx0 = sofa_x1 + (room_right - win_w) / 2
        lamp_side = 1 if room_left > room_right else -1
    else:
        wx0 = sofa_x0 + uniform(rng, 0.05, 0.95) * (sofa_w - win_w)
        lamp_side = 1 if rng.random() < 0.5 else -1
    wy0 = uniform(rng, 0.08, 0.14) * H
    # Curtains either side.
    curtain = jitter(rng, pick(rng, ((60, 60, 140), (120, 90, 60), (200, 210, 215),
                                        (70, 110, 90))))
    window(img, rng, wx0, wy0, wx0 + win_w, wy0 + win_h, lighting, (240, 240, 240), indoor=True)
    for cx in (wx0 - 0.02 * W, wx0 + win_w + 0.02 * W):
        rect(img, cx - 0.025 * W, wy0 - 0.04 * H, cx + 0.025 * W, wy0 + win_h + 0.06 * H, curtain)

    # Picture frame above the sofa, clear of the window.
    pic_w, pic_h = uniform(rng, 0.12, 0.18) * W, uniform(rng, 0.1, 0.14) * H
    pic_x0 = sofa_x0 + uniform(rng, 0.2, 0.8) * (sofa_w - pic_w)
    if wx0 - pic_w - 0.04 * W < pic_x0 < wx0 + win_w + 0.04 * W:
        pic_x0 = None  # no free wall above the sofa
    if pic_x0 is not None:
        pic_y0 = back_top - pic_h - uniform(rng, 0.04, 0.08) * H
        rect(img, pic_x0, pic_y0, pic_x0 + pic_w, pic_y0 + pic_h,
              pick(rng, ((30, 30, 30), (60, 140, 180), (235, 235, 235))))
        ix0, iy0 = pic_x0 + 0.12 * pic_w, pic_y0 + 0.15 * pic_h
        ix1, iy1 = pic_x0 + 0.88 * pic_w, pic_y0 + 0.85 * pic_h
        art = jitter(rng, pick(rng, ((190, 150, 100), (90, 160, 200), (120, 170, 120))))
        rect(img, ix0, iy0, ix1, iy1, art)
        poly(img, [(ix0, iy1), ((ix0 + ix1) / 2, iy0 + 0.3 * (iy1 - iy0)), (ix1, iy1)],
              shade(art, 0.6))

    # Sofa: back, seat cushions, arms, feet.
    sofa = jitter(rng, pick(rng, ((110, 110, 112), (90, 50, 35), (40, 60, 100), (70, 100, 70),
                                     (150, 180, 200), (50, 50, 140), (60, 60, 62))))
    shadow = shade(sofa, 0.7)
    rect(img, sofa_x0 + 0.03 * W, sofa_bottom - 0.01 * H, sofa_x0 + 0.05 * W,
          sofa_bottom + 0.02 * H, (30, 30, 30))
    rect(img, sofa_x1 - 0.05 * W, sofa_bottom - 0.01 * H, sofa_x1 - 0.03 * W,
          sofa_bottom + 0.02 * H, (30, 30, 30))
    rect(img, sofa_x0 + 0.02 * W, back_top, sofa_x1 - 0.02 * W, seat_y, shade(sofa, 0.92))
    n_cushions = int(rng.integers(2, 4))
    cw = (sofa_w - 2 * arm_w) / n_cushions
    for i in range(1, n_cushions):
        x = sofa_x0 + arm_w + i * cw
        line(img, (x, back_top + 0.015 * H), (x, seat_y), shadow, max(1, 0.008 * H))
    rect(img, sofa_x0, seat_y, sofa_x1, sofa_bottom, sofa)
    line(img, (sofa_x0 + arm_w, seat_y + 0.005 * H), (sofa_x1 - arm_w, seat_y + 0.005 * H),
          tint(sofa, 0.2), max(1, 0.01 * H))
    line(img, (sofa_x0, seat_y + 0.07 * H), (sofa_x1, seat_y + 0.07 * H), shadow,
          max(1, 0.008 * H))
    for ax0 in (sofa_x0, sofa_x1 - arm_w):
        rect(img, ax0, seat_y - 0.07 * H, ax0 + arm_w, sofa_bottom, shade(sofa, 1.05))
        cv2.ellipse(img, ipt(ax0 + arm_w / 2, seat_y - 0.07 * H), ipt(arm_w / 2, 0.02 * H), 0,
                    180, 360, shade(sofa, 1.05), -1, AA)

    # Floor lamp beside the sofa.
    lamp_x = (sofa_x1 + 0.07 * W) if lamp_side > 0 else (sofa_x0 - 0.07 * W)
    lamp_x = min(max(lamp_x, 0.06 * W), 0.94 * W)
    shade_y = back_top - uniform(rng, 0.1, 0.16) * H
    line(img, (lamp_x, shade_y), (lamp_x, sofa_bottom), (40, 40, 42), max(1, 0.01 * H))
    poly(img, [(lamp_x - 0.04 * H, sofa_bottom + 0.005 * H), (lamp_x + 0.04 * H, sofa_bottom +
                0.005 * H), (lamp_x, sofa_bottom - 0.01 * H)], (40, 40, 42))
    lit = lighting == "lights_on"
    shade_col = (170, 225, 250) if lit else jitter(rng, (185, 215, 230), 8)
    poly(img, [(lamp_x - 0.035 * H, shade_y - 0.05 * H), (lamp_x + 0.035 * H, shade_y - 0.05 * H),
                (lamp_x + 0.055 * H, shade_y + 0.03 * H), (lamp_x - 0.055 * H, shade_y + 0.03 * H)],
          shade_col)
    if rng.random() < 0.5:
        # A rug in front of the sofa.
        rug = jitter(rng, pick(rng, ((60, 60, 130), (140, 120, 90), (170, 175, 180),
                                       (70, 90, 60))))
        cv2.ellipse(img, ipt((sofa_x0 + sofa_x1) / 2, sofa_bottom + 0.12 * H),
                    ipt(sofa_w * 0.45, 0.07 * H), 0, 0, 360, rug, -1, AA)

    spots = {
        "sofa": (sofa_x0 + arm_w, sofa_x1 - arm_w, seat_y + 0.01 * H, uniform(rng, 0.47, 0.52)),
        "floor": (0.03 * W, 0.97 * W, uniform(rng, 0.88, 0.93) * H, uniform(rng, 0.58, 0.64)),
    }
    rough = [(0, floor_y, W, H, 0.02 if wood else 0.05), (0, 0, W, floor_y, 0.012)]
    return spots, [(lamp_x, shade_y - 0.01 * H)], rough


def kitchen(img, rng, lighting):
    H, W = img.shape[:2]
    top_y = uniform(rng, 0.5, 0.56) * H  # counter top surface
    floor_y = uniform(rng, 0.8, 0.84) * H
    upper_bottom = uniform(rng, 0.25, 0.3) * H
    wall = jitter(rng, pick(rng, ((215, 220, 225), (190, 200, 210), (170, 190, 200))))
    img[:] = wall
    # Backsplash tiles between upper cabinets and counter.
    tile = jitter(rng, pick(rng, ((235, 235, 232), (200, 180, 150), (150, 190, 160),
                                     (170, 175, 180))))
    rect(img, 0, upper_bottom, W, top_y, tile)
    grout = shade(tile, 0.78)
    ts = uniform(rng, 0.045, 0.065) * H
    y = upper_bottom
    while y < top_y:
        line(img, (0, y), (W, y), grout, 1)
        y += ts
    x = 0.0
    while x < W:
        line(img, (x, upper_bottom), (x, top_y), grout, 1)
        x += ts * 1.5  # oblong "subway" tiles

    cab = jitter(rng, pick(rng, ((240, 240, 238), (60, 95, 140), (110, 115, 120), (120, 90, 60),
                                    (90, 120, 95))))
    fridge_w = uniform(rng, 0.2, 0.25) * W
    fridge_left = rng.random() < 0.5
    fx0 = 0.02 * W if fridge_left else W - 0.02 * W - fridge_w
    fx1 = fx0 + fridge_w
    # Upper cabinets: doors with handles.
    rect(img, 0, 0, W, upper_bottom, cab)
    door_w = uniform(rng, 0.14, 0.2) * W
    x = uniform(rng, 0, door_w)
    while x < W:
        rect(img, x - door_w + 0.01 * W, 0.02 * H, x - 0.01 * W, upper_bottom - 0.02 * H,
              shade(cab, 0.82), 1)
        line(img, (x - 0.03 * W, upper_bottom - 0.06 * H), (x - 0.03 * W, upper_bottom - 0.03 * H),
              (70, 70, 72), max(1, 0.008 * H))
        x += door_w
    # Counter top and base cabinets.
    counter = jitter(rng, pick(rng, ((80, 80, 82), (225, 225, 222), (40, 40, 42), (70, 120, 160),
                                        (150, 150, 145))))
    rect(img, 0, top_y + 0.025 * H, W, floor_y, shade(cab, 0.95))
    x = uniform(rng, 0, door_w)
    while x < W:
        rect(img, x - door_w + 0.01 * W, top_y + 0.05 * H, x - 0.01 * W, floor_y - 0.04 * H,
              shade(cab, 0.8), 1)
        line(img, (x - door_w + 0.03 * W, top_y + 0.07 * H), (x - 0.03 * W, top_y + 0.07 * H),
              (70, 70, 72), max(1, 0.008 * H))
        x += door_w
    rect(img, 0, floor_y - 0.03 * H, W, floor_y, (35, 35, 37))  # toe kick
    rect(img, 0, top_y - 0.012 * H, W, top_y + 0.025 * H, counter)
    line(img, (0, top_y - 0.012 * H), (W, top_y - 0.012 * H), tint(counter, 0.3), 1)
    line(img, (0, top_y + 0.025 * H), (W, top_y + 0.025 * H), shade(counter, 0.6), 1)
    # Floor.
    floor = jitter(rng, pick(rng, ((200, 200, 198), (120, 130, 140), (70, 100, 140),
                                      (160, 170, 180))))
    vgradient(img, floor_y, H, shade(floor, 0.85), shade(floor, 1.05))
    y, gap = floor_y, 0.04 * H
    while y < H:
        line(img, (0, y), (W, y), shade(floor, 0.8), 1)
        gap *= 1.3
        y += gap
    # Fridge: tall box with freezer split and handles.
    fridge = jitter(rng, pick(rng, ((200, 200, 198), (235, 235, 235), (50, 50, 52))), 6)
    f_top = uniform(rng, 0.04, 0.1) * H
    rect(img, fx0, f_top, fx1, floor_y + 0.01 * H, fridge)
    rect(img, fx0, f_top, fx1, floor_y + 0.01 * H, shade(fridge, 0.7), 1)
    split = f_top + 0.32 * (floor_y - f_top)
    line(img, (fx0, split), (fx1, split), shade(fridge, 0.65), max(1, 0.008 * H))
    hx = fx1 - 0.03 * W if fridge_left else fx0 + 0.03 * W
    line(img, (hx, split - 0.12 * H), (hx, split - 0.03 * H), (90, 90, 92), max(1, 0.012 * H))
    line(img, (hx, split + 0.03 * H), (hx, split + 0.2 * H), (90, 90, 92), max(1, 0.012 * H))
    # Pendant lamp hanging from the ceiling above the counter.
    px = (uniform(rng, 0.45, 0.8) if fridge_left else uniform(rng, 0.2, 0.55)) * W
    py = uniform(rng, 0.1, 0.16) * H
    line(img, (px, 0), (px, py), (40, 40, 40), 1)
    lamp_shade = (170, 225, 250) if lighting == "lights_on" else (60, 60, 62)
    cv2.ellipse(img, ipt(px, py + 0.005 * H), ipt(0.05 * H, 0.035 * H), 0, 180, 360, lamp_shade, -1,
                AA)

    cx0, cx1 = (fx1 + 0.02 * W, 0.98 * W) if fridge_left else (0.02 * W, fx0 - 0.02 * W)
    spots = {
        "counter": (cx0, cx1, top_y + 0.004 * H, uniform(rng, 0.4, 0.45)),
        "floor": (0.03 * W, 0.97 * W, uniform(rng, 0.9, 0.95) * H, uniform(rng, 0.6, 0.65)),
    }
    rough = [(0, floor_y, W, H, 0.025), (0, 0, W, floor_y, 0.012)]
    return spots, [(px, py + 0.01 * H)], rough
