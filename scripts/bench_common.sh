# Sourced by the exec-path benchmarks (bench_shim.sh, bench_seccomp.sh, bench_exec.sh):
# finds lokt and the preload library, makes a temporary directory (removed on exit) holding
# a realistic rules file none of whose rules matches the benchmarks' own execs (`true`, `sh`,
# `make -s -j8 ...`), and an empty library whose preloading is the dynamic loader's share.
# Sets: here, lokt, lib, tmp. `need_lib=0` before sourcing: the library is optional.
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
lokt=${LOKT_BIN:-$here/build/stage/bin/lokt}
lib=${LOKT_PRELOAD_LIB:-$(dirname "$(dirname "$lokt")")/lib/lokt/liblokt_preload.so}
[[ -x $lokt ]] || { echo "need LOKT_BIN ($lokt)" >&2; exit 1; }
[[ ${need_lib:-1} == 0 || -f $lib ]] || { echo "need the preload library ($lib)" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat > "$tmp/rules" <<'RULES'
build      wait=30m : make install *
build               : cmake --build *
git-push   wait=10m : git push *
git-push            : git -C * push *
terraform  wait=0   : terraform apply|destroy *
deploy              : ./deploy.sh *
RULES
echo 'int lokt_bench_empty;' > "$tmp/empty.c"
gcc -shared -fPIC -o "$tmp/libempty.so" "$tmp/empty.c"
