"""Foundation: column names, paths, errors, atomic file IO, provenance, parameter rules, the TensorFlow import."""
