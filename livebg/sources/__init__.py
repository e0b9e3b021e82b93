"""Where frames come from: video files and streams (``video_file``), still pictures (``image_file``) and
live cameras (``camera``). Video is opened and decoded by ``media`` (PyAV) for all of them and for
video backgrounds, and turned upright by ``orientation``."""
