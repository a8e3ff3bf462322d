"""The bottom layer, shared by every stage: detections, box geometry, images, errors, the stage contracts,
artifact I/O, the resumable run engine and registries (``docs/architecture.md``, "Package map")."""
