"""Calibrated confidence: a monotone map from raw to calibrated confidence per (backend, model, version),
fitted on labelled readings and kept as reviewed JSON under calibration/ (docs/evaluation.md, "Calibration")."""
