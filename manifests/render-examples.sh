#!/usr/bin/env bash
# Re-renders manifests/examples/ from examples/jobs/ (every spec that names an image), in every
# format, with the fixed example token so that the output is reproducible.
# Usage (from the repository root): manifests/render-examples.sh [path/to/trainctl]
set -euo pipefail
trainctl="${1:-build/launcher/cli/trainctl}"
for spec in examples/jobs/*.yaml examples/jobs/*.json; do
  grep -q '"\?image"\?:' "$spec" || continue
  name="$(basename "${spec%.*}")"
  for format in job jobset pytorchjob; do
    "$trainctl" render "$spec" --format "$format" --token-file manifests/examples/example.token \
      > "manifests/examples/$name.$format.yaml"
  done
done
