"""Top of the stack below definitions: sensors, schedules and automation that run the assets."""
