//! Synthetic-day simulation (placeholder).
