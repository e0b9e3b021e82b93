"""Where frames come from: video files and streams (``video_file``) and live cameras (``camera``), both
opened and decoded by ``media`` (PyAV), as video backgrounds are."""
