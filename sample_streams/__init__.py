"""Synthetic sample clips with ground truth, the RTSP camera simulator, the door simulator."""
