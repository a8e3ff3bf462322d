"""Core types shared by every stage: detections, box geometry, images and errors."""
