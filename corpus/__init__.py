"""Reports in: PDF parsing, cleaning, section segmentation, passages and the dataset store."""
