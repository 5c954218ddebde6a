# shellcheck shell=bash
# Sourced by scripts/ci/measure and scripts/ci/asv-cache: the checks of a PR's two refs, and the
# merge base they measure (both scripts must agree on it: the cache is keyed by it).
#
# check_refs BASE_REF HEAD_SHA   exits 2 with one line unless both are safe to pass on
# merge_base BASE_REF HEAD_SHA   prints the merge base of HEAD_SHA with origin/BASE_REF (or
#                                BASE_REF itself when there is no such remote branch)
# check_shard                    exits 2 with one line unless $PERFGUARD_SHARD is empty or K/N
#                                with 1 <= K <= N; sets SHARD_K and SHARD_N (empty: no shard)

check_refs() {
  local base_ref=$1 head_sha=$2
  [[ $base_ref =~ ^[A-Za-z0-9._/-]+$ ]] || { echo "error: bad base ref: $base_ref" >&2; exit 2; }
  # perfguard.gitrefs.FULL_SHA, checked in bash before anything runs (tests/tooling/test_one_home)
  [[ $head_sha =~ ^[0-9a-f]{40}$ ]] || { echo "error: head must be a full sha: $head_sha" >&2; exit 2; }
}

merge_base() {
  local target=$1
  if git rev-parse --verify --quiet "origin/$1^{commit}" >/dev/null; then
    target="origin/$1"
  fi
  git merge-base "$target" "$2"
}

check_shard() {
  SHARD_K="" SHARD_N=""
  [ -n "${PERFGUARD_SHARD:-}" ] || return 0
  [[ $PERFGUARD_SHARD =~ ^([1-9][0-9]{0,2})/([1-9][0-9]{0,2})$ ]] \
    && (( BASH_REMATCH[1] <= BASH_REMATCH[2] )) \
    || { echo "error: bad shard (K/N, 1 <= K <= N): $PERFGUARD_SHARD" >&2; exit 2; }
  SHARD_K=${BASH_REMATCH[1]} SHARD_N=${BASH_REMATCH[2]}
}
