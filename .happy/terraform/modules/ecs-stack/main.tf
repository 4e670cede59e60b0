# Happy ECS stack of the data portal: one backend service per remote-dev (rdev) stack, plus the
# one-off tasks that create the stack's database, seed it and run the Alembic migrations.

variable "aws_account_id" {
  type        = string
  description = "AWS account ID to apply changes to"
}

variable "aws_role" {
  type        = string
  description = "Name of the AWS role to assume to apply changes"
}

variable "image_tag" {
  type        = string
  description = "Please provide an image tag"
}

variable "stack_name" {
  type        = string
  description = "Happy Path stack name"
}

variable "deployment_stage" {
  type        = string
  description = "Deployment stage for the app"
  default     = "rdev"
}

variable "happy_config_secret" {
  type        = string
  description = "Happy Path configuration secret name"
}

variable "priority" {
  type        = number
  description = "Listener rule priority number within the given listener"
}

variable "wait_for_steady_state" {
  type        = bool
  description = "Should Terraform block until ECS services reach a steady state?"
  default     = true
}

data "aws_secretsmanager_secret_version" "config" {
  secret_id = var.happy_config_secret
}

locals {
  secret = jsondecode(data.aws_secretsmanager_secret_version.config.secret_string)

  custom_stack_name = var.stack_name
  image_tag         = var.image_tag
  priority          = var.priority
  deployment_stage  = var.deployment_stage
  remote_dev_prefix = var.deployment_stage == "rdev" ? "/${var.stack_name}" : ""

  backend_image_repo = local.secret["ecrs"]["backend"]["url"]
  backend_cmd        = ["gunicorn", "--worker-class", "gevent", "--workers", "4", "--bind", "0.0.0.0:5000", "backend.api_server.app:app"]
  backend_url        = "https://${var.stack_name}-backend.${local.secret["dns"]["domain"]}"
  migration_cmd      = ["make", "-C", "/single-cell-data-portal/backend", "db/init_remote_dev"]
  delete_db_cmd      = ["make", "-C", "/single-cell-data-portal/backend", "db/delete_remote_dev"]

  # Seed dump loaded into a fresh rdev database before "alembic upgrade head" runs; it was taken
  # at the revision named in the file, so only the migrations after it replay on top.
  data_load_path = "s3://env-rdev-dataportal/database/seed_data_12_7cd45af4a41d.sql"

  vpc_id             = local.secret["vpc_id"]
  subnets            = local.secret["private_subnets"]
  security_groups    = local.secret["security_groups"]
  cluster            = local.secret["cluster_arn"]
  listener           = local.secret["ext_listener_arn"]
  ecs_role_arn       = local.secret["service_roles"]["ecs_role"]
  ecs_execution_role = lookup(local.secret["service_roles"], "ecs_execution_role", "")
}

module "backend" {
  source                = "../service"
  custom_stack_name     = local.custom_stack_name
  app_name              = "backend"
  vpc                   = local.vpc_id
  image                 = "${local.backend_image_repo}:${local.image_tag}"
  cluster               = local.cluster
  desired_count         = 2
  listener              = local.listener
  subnets               = local.subnets
  security_groups       = local.security_groups
  task_role_arn         = local.ecs_role_arn
  service_port          = 5000
  cmd                   = local.backend_cmd
  deployment_stage      = local.deployment_stage
  step_function_arn     = module.upload_sfn.step_function_arn
  host_match            = "${var.stack_name}-backend.${local.secret["dns"]["domain"]}"
  priority              = local.priority
  api_url               = local.backend_url
  data_load_path        = local.data_load_path
  execution_role        = local.ecs_execution_role
  wait_for_steady_state = var.wait_for_steady_state
}

module "migrate_db" {
  source                = "../migration"
  image                 = "${local.backend_image_repo}:${local.image_tag}"
  task_role_arn         = local.ecs_role_arn
  cmd                   = local.migration_cmd
  custom_stack_name     = local.custom_stack_name
  remote_dev_prefix     = local.remote_dev_prefix
  deployment_stage      = local.deployment_stage
  data_load_path        = local.data_load_path
  execution_role        = local.ecs_execution_role
  wait_for_steady_state = var.wait_for_steady_state
}

module "delete_db" {
  count             = var.deployment_stage == "rdev" ? 1 : 0
  source            = "../deletion"
  image             = "${local.backend_image_repo}:${local.image_tag}"
  task_role_arn     = local.ecs_role_arn
  cmd               = local.delete_db_cmd
  custom_stack_name = local.custom_stack_name
  remote_dev_prefix = local.remote_dev_prefix
  deployment_stage  = local.deployment_stage
  execution_role    = local.ecs_execution_role
}

module "upload_sfn" {
  source            = "../sfn"
  custom_stack_name = local.custom_stack_name
  deployment_stage  = local.deployment_stage
  remote_dev_prefix = local.remote_dev_prefix
  execution_role    = local.ecs_execution_role
}

output "backend_url" {
  value       = local.backend_url
  description = "URL of the backend of this stack"
}

output "migration_task_definition" {
  value       = module.migrate_db.task_definition_arn
  description = "Task definition that seeds and migrates the stack's database"
}
