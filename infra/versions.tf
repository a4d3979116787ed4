terraform {
  required_version = ">= 1.5"

  # State holds the approval signing key: keep it in a bucket, never in git or on a laptop. infra/deploy.sh passes
  # -backend-config="bucket=PROJECT-autosre-tfstate" (creating the bucket, versioned, if needed).
  backend "gcs" {
    prefix = "autosre"
  }

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = ">= 5.30, < 7"
    }
    # google_project_service_identity (IAP's service agent, created before anything is granted to it) is beta-only
    google-beta = {
      source  = "hashicorp/google-beta"
      version = ">= 5.30, < 7"
    }
    random = {
      source  = "hashicorp/random"
      version = ">= 3.5"
    }
  }
}

provider "google" {
  project = var.project_id
  region  = var.region
}

provider "google-beta" {
  project = var.project_id
  region  = var.region
}
