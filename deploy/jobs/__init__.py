"""Programs of the built-in job kinds that need the model hub or the components (the scheduler imports
neither): `train` (Ray Train) and `batch_inference` (Ray Data). The scheduler runs them by module name."""
