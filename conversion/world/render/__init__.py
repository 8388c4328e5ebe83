"""The synthetic renderer: a scene record drawn as a home-camera frame (scene.render_scene)."""
