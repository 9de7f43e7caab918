"""The edge worker: camera readers, recorder, door listener, heartbeats, metrics."""
