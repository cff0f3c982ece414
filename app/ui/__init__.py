"""The Qt user interface. It only calls the layers below (engine, data, models, vision)."""
