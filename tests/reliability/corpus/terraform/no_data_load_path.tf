# A broken copy of the reference stack's data_load_path, for the bad-input corpus.

locals {
  stack_name = "rdev"
}
