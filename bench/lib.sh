# Sourced by the benchmark scripts (from the repository's root): the probity binary they
# measure, `$PROBITY_BIN` when set (the tests pass their own build), else a release build.
if [ -z "${PROBITY_BIN:-}" ]; then
  cargo build --release -q -p probity
  bin="$(pwd)/target/release/probity"
else
  bin="$PROBITY_BIN"
fi
