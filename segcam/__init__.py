"""segcam: real-time person segmentation for webcams, virtual cameras and video files."""

__version__ = "0.1.0"
