"""Where frames come from: video files and streams (``video_file``) and live cameras (``camera``)."""
