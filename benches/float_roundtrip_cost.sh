#!/usr/bin/env bash
# What serde_json's `float_roundtrip` costs the decode, measured in one run: `decode_ratios` is
# built twice in release mode, from this tree and from a copy whose root Cargo.toml drops the
# feature (`cargo tree` confirms it is gone from that build), and the two binaries run
# alternately, on the synthetic page and on a float-heavy one. Compare each decoder's median
# between the builds; `ignored_any` skips numbers without converting them, so it is the same in
# both and shows how much the machine moved between runs.
#
#   benches/float_roundtrip_cost.sh [items] [alternations]     (defaults: 100 items, 2)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
items=${1:-100}
alternations=${2:-2}
work=${FLOAT_COST_DIR:-/tmp/referrals-float-roundtrip}
copy=$work/tree

rm -rf "$copy"
mkdir -p "$copy"
(cd "$root" && git ls-files -z | xargs -0 tar -cf -) | tar -xf - -C "$copy"
sed -i 's/features = \["std", "float_roundtrip"\]/features = ["std"]/' "$copy/Cargo.toml"
if (cd "$copy" && cargo tree -p referrals-benches -e normal,dev,features -i serde_json --prefix none) |
    grep -q '^serde_json feature "float_roundtrip"'; then
    echo "the copy still builds serde_json with float_roundtrip" >&2
    exit 1
fi

build() {
    (cd "$1" && CARGO_TARGET_DIR="$2" cargo build --release -q -p referrals-benches --example decode_ratios)
}
with=${WITH_TARGET_DIR:-$work/with} # reuse an existing release target dir of this tree
build "$root" "$with"
build "$copy" "$work/without"

for page in synthetic floats; do
    for run in $(seq "$alternations"); do
        for build in with without; do
            echo "== float_roundtrip: $build; page: $page; run $run"
            dir=$work/without
            [ "$build" = with ] && dir=$with
            "$dir/release/examples/decode_ratios" "$items" 11 "$page"
        done
    done
done
