# A broken copy of the reference stack's data_load_path, for the bad-input corpus.

locals {
  data_load_path = "s3://env-rdev-dataportal/database/seed_data_12_7cd45af4a41d.sql"
}

locals {
  broken = "unterminated
}
