"""livebg: replace the background of a person's video, live (webcam, virtual camera, window) or from
a file. Importing the package prints nothing, picks no device and starts no thread."""

__version__ = "0.1.0"
