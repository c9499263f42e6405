"""Sources domain: simulators (materializable) and Kafka topics (external assets)."""
