"""Anonymous pulse surveys: definitions, building and publishing, waves, answering, results."""
