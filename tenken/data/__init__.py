"""Data: the training-data format every generator writes and every trainer reads, synthetic-data recipes,
curation filters and converters to other training formats."""
