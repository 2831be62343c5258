"""Models in MLflow's format: flavors, signatures, requirements, URIs."""
