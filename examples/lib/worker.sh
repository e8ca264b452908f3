# Helpers for workers written in POSIX sh and run by `errand work`, sourced by
# the scripts of examples/checkout-flow and examples/bank-transfer:
#
#   . "$(dirname "$0")/../lib/worker.sh"
#
# docs/cli.md has the whole contract; in short: the payload arrives on stdin,
# stdout is the result, a non-zero exit fails the attempt with the last stderr
# line as its message, and a flow's step learns its flow from ERRAND_FLOW_*.

# field JSON NAME: the value of member NAME in JSON text, a string without its
# quotes or a number. POSIX tools only: enough for the flat, compact JSON of
# these examples, where each name occurs once. Use jq when you have it.
field() {
  printf '%s' "$1" |
    sed -n "s/.*\"$2\"[[:space:]]*:[[:space:]]*\"\{0,1\}\([^\",}]*\)\"\{0,1\}.*/\1/p"
}

# flow_inputs: for a step, the results of the steps it comes after, as one
# JSON object by step name; for a compensation, {"<step>": <its result>}.
# Small inputs come in ERRAND_FLOW_INPUTS, large ones in a file.
flow_inputs() {
  if [ -n "${ERRAND_FLOW_INPUTS_FILE:-}" ]; then
    cat "$ERRAND_FLOW_INPUTS_FILE"
  else
    printf '%s' "${ERRAND_FLOW_INPUTS:-}"
  fi
}

# compensating: true when this job undoes the step ERRAND_FLOW_STEP.
compensating() {
  [ "${ERRAND_FLOW_COMPENSATING:-0}" = 1 ]
}

# decline TYPE MESSAGE: fails the job for good, with TYPE as the error type
# and MESSAGE as the error message. A decline is an answer, not an outage:
# retrying would give the same answer, so the flow fails (and compensates) now.
decline() {
  echo "errand:no-retry $1" >&2
  echo "$2" >&2
  exit 1
}

# job_tag: eight hex digits of this job's id, to make up ids ("ch_1a2b3c4d").
job_tag() {
  printf '%.8s' "${ERRAND_JOB_ID##*-}"
}
