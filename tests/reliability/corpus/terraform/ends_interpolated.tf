variable "seed_file" {
  type    = string
  default = "seed_data_12_7cd45af4a41d.sql"
}

locals {
  data_load_path = "s3://env-rdev-dataportal/database/${var.seed_file}"
}
