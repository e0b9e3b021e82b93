"""Where frames go: video files and image sequences (``video_file``, ``image_file``), the preview
window (``window``) and the virtual camera (``virtual_camera``)."""
