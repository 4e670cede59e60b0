"""dbci's database layer: SQL runners, URLs and their masking, the embedded server, scratch
databases."""
