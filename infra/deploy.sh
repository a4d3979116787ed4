#!/usr/bin/env bash
# Deploy Auto SRE to a GCP project: package the source with the pinned requirements (infra/requirements.lock), then terraform apply.
# Usage: infra/deploy.sh PROJECT_ID [REGION] [-- extra terraform args, e.g. -var 'approvers=["you@x.com"]']
set -euo pipefail
project="${1:?usage: infra/deploy.sh PROJECT_ID [REGION] [-- terraform args]}"; shift
region="us-central1"
if [ $# -gt 0 ] && [ "$1" != "--" ]; then region="$1"; shift; fi
[ "${1:-}" = "--" ] && shift
here="$(cd "$(dirname "$0")" && pwd)"
build="$(mktemp -d)"; trap 'rm -rf "$build"' EXIT

python3 "$here/package.py" "$build"  # the packages, requirements.txt (the lock), main.py, bytecode for the runtime
(cd "$build" && zip -qr "$build/source.zip" .)
echo "source: $(du -h "$build/source.zip" | cut -f1) with $(wc -l < "$build/requirements.txt") requirements"

state="gs://$project-autosre-tfstate"  # state holds the approval key: a versioned bucket, never git
if ! gcloud storage buckets describe "$state" --project "$project" >/dev/null 2>&1; then
  gcloud storage buckets create "$state" --project "$project" --location "$region" --uniform-bucket-level-access
  gcloud storage buckets update "$state" --versioning
fi

# the specialists to deploy, from the one registry (shared/specialists.py): a new specialist needs no Terraform edit
specialists="$(cd "$here/.." && python3 -c 'import json; from shared.specialists import SPECIALISTS; print(json.dumps(list(SPECIALISTS)))')"

cd "$here"
terraform init -input=false -backend-config="bucket=$project-autosre-tfstate"
terraform apply -input=false -var "project_id=$project" -var "region=$region" -var "source_zip=$build/source.zip" \
  -var "specialists=$specialists" "$@"
