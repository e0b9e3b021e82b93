"""Where frames go. Every sink keeps one contract (``base``: write, finish atomically, close): video
files (``video_file``, with the encoder settings in ``encoding``), PNG sequences (``png_sequence``),
still images (``image_file``), the preview window (``window``) and the virtual camera
(``virtual_camera``). Every file is written by the rules of ``safe_write``."""
