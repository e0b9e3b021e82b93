"""livebg: replace the background of a person's video, live (webcam, virtual camera, window) or from
a file. Importing the package prints nothing, picks no device and starts no thread."""

# OpenCV must be loaded before PyAV: both wheels bundle a libxcb-shape of the same file name, and with
# PyAV's copy loaded first OpenCV's Qt window hangs forever (PyAV issue #978).
import cv2  # noqa: F401

__version__ = "0.1.0"
