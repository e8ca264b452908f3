#!/bin/sh
# A worker written as a shell script, run by `errand work` (see README.md):
#
#   errand work thumbnails --concurrency 4 --timeout 60 -- ./thumbnail.sh
#
# The contract: the job's payload JSON arrives on stdin, the job's id, queue
# and attempt in ERRAND_JOB_ID, ERRAND_QUEUE and ERRAND_ATTEMPT; what this
# script prints on stdout is the job's result (JSON here); a stderr line
# `errand:progress PERCENT MESSAGE` reports progress; any other stderr line is
# a log line, and the last one is the error message when the script exits
# non-zero. SIGTERM means the job was cancelled, timed out or the worker is
# shutting down: clean up and exit.
#
# It "makes a thumbnail" of {"image": "cat.png", "width": 320, "height": 200}
# at half the size. The resizing is simulated, so that the example runs
# anywhere; replace it with e.g. `convert "$image" -resize 50% "$out"`.
set -eu

payload=$(cat)

# One value of the payload (a string or a number), with POSIX tools only:
# enough for the flat, compact JSON errand sends. Use jq when you have it.
field() {
  printf '%s' "$payload" |
    sed -n "s/.*\"$1\"[[:space:]]*:[[:space:]]*\"\{0,1\}\([^\",}]*\)\"\{0,1\}.*/\1/p"
}

fail() {
  echo "thumbnail: $*" >&2
  exit 2
}

workdir=$(mktemp -d)
trap 'rm -rf "$workdir"' EXIT
trap 'echo "thumbnail: stopped" >&2; exit 143' TERM

image=$(field image)
width=$(field width)
height=$(field height)
case "$image" in
  "" ) fail "the payload needs an \"image\"" ;;
esac
case "$width" in
  "" | *[!0-9]* | 0 ) fail "width must be a positive integer, got ${width:-nothing}" ;;
esac
case "$height" in
  "" | *[!0-9]* | 0 ) fail "height must be a positive integer, got ${height:-nothing}" ;;
esac

echo "job $ERRAND_JOB_ID (attempt $ERRAND_ATTEMPT): thumbnail of $image" >&2
echo "errand:progress 10 reading $image" >&2
sleep 0.1
echo "errand:progress 60 resizing to half size" >&2
sleep 0.1
thumb_width=$((width / 2))
thumb_height=$((height / 2))
name="${image%.*}-${thumb_width}x${thumb_height}.${image##*.}"
: > "$workdir/$name"
echo "errand:progress 100 done" >&2

printf '{"thumbnail": "%s", "width": %d, "height": %d}\n' "$name" "$thumb_width" "$thumb_height"
