//! Anchors to initialisation (or a given checkpoint).
