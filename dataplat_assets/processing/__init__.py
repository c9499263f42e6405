"""Processing domain: Spark silver micro-batches and gold partitioned outputs, with their checks."""
