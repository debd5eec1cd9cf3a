# Progress for long, otherwise silent steps (apt, the build): sourced by scripts/setup and
# scripts/demo. A step's full output goes to a log; the terminal gets a percentage line when it
# moves by 5 points, and at least every 10 s ("build: 45% after 1m20s").

# progress_elapsed SECONDS: "1m20s" or "45s".
progress_elapsed() {
  local s=$1
  if ((s >= 60)); then printf '%dm%02ds' $((s / 60)) $((s % 60)); else printf '%ds' "$s"; fi
}

# progress_filter LABEL LOG: reads a step's output on stdin, appends it to LOG, and prints
# "LABEL: N% after T" lines. It understands CMake's "[ 45%]" lines, and apt's status lines
# ("pmstatus:PKG:45.5:..." and "dlstatus:...", from apt-get -o APT::Status-Fd=1).
# PROGRESS_INTERVAL (default 10) bounds the seconds between two lines.
progress_filter() {
  local label="$1" log="$2" interval="${PROGRESS_INTERVAL:-10}"
  local start=$SECONDS last_print=$SECONDS percent="" printed="" line phase=""
  while true; do
    if IFS= read -r -t 1 line; then
      printf '%s\n' "$line" >>"$log"
      if [[ "$line" =~ ^\[\ *([0-9]+)%\] ]]; then
        percent="${BASH_REMATCH[1]}"
      elif [[ "$line" =~ ^(dl|pm)status:[^:]*:([0-9]+) ]]; then
        # Downloading counts as the first half, unpacking and configuring as the second.
        if [[ "${BASH_REMATCH[1]}" == dl ]]; then
          phase="downloading" percent=$((BASH_REMATCH[2] / 2))
        else
          phase="installing" percent=$((50 + BASH_REMATCH[2] / 2))
        fi
      fi
    elif (($? <= 128)); then
      break # end of input (a timeout returns more than 128)
    fi
    local now=$SECONDS moved=0
    if [[ -n "$percent" && ( -z "$printed" || $((percent - printed)) -ge 5 ) ]]; then moved=1; fi
    if ((moved || now - last_print >= interval)); then
      printf '%s: %s%s after %s\n' "$label" "${percent:-0}%" "${phase:+ ($phase)}" \
        "$(progress_elapsed $((now - start)))"
      printed="${percent:-0}" last_print=$now
    fi
  done
  printf '%s: finished after %s\n' "$label" "$(progress_elapsed $((SECONDS - start)))"
}

# progress_run LABEL LOG COMMAND...: runs COMMAND with its output through progress_filter;
# returns COMMAND's status, and shows the end of LOG when it fails.
progress_run() {
  local label="$1" log="$2" status_file status
  shift 2
  status_file="$(mktemp)"
  # `|| code=$?` keeps a failure from ending the group under `set -e` before it is recorded.
  { code=0; "$@" 2>&1 || code=$?; echo "$code" >"$status_file"; } | progress_filter "$label" "$log"
  status="$(cat "$status_file")"
  rm -f "$status_file"
  if ((status != 0)); then
    tail -n 40 "$log" >&2
    echo "$label: failed (exit $status); the full log is $log" >&2
  fi
  return "$status"
}
