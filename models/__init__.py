"""Agency extraction, the vivid-example detector and code suggesters, training and the registry."""
