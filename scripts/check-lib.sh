#!/bin/sh
# Checks that a built libseqcore.so is self-contained and exports only the C API:
#   - its soname is libseqcore.so.<ABI>;
#   - it needs no library but libc, libm, libstdc++, libgcc_s and the loader (no Swift runtime,
#     no Foundation, no Dispatch: the Swift standard library is linked in statically);
#   - every exported symbol is seq_*, and every function include/seqcore.h declares is exported.
# Usage: scripts/check-lib.sh LIBRARY ABI HEADER
set -eu
lib=$1 abi=$2 header=$3
status=0

soname=$(readelf -d "$lib" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
if [ "$soname" != "libseqcore.so.$abi" ]; then
    echo "check-lib: soname is '$soname', expected 'libseqcore.so.$abi'"; status=1
fi

needed=$(readelf -d "$lib" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
for n in $needed; do
    case $n in
        libc.so.*|libm.so.*|libstdc++.so.*|libgcc_s.so.*|ld-linux*.so.*) ;;
        *) echo "check-lib: depends on $n; only libc, libm, libstdc++ and libgcc_s are allowed"; status=1 ;;
    esac
done

# Global, defined dynamic symbols: the exported API.
exported=$(nm -D --defined-only "$lib" | awk '$2 ~ /^[A-Z]$/ {print $3}' | sort)
for s in $exported; do
    case $s in
        seq_*) ;;
        *) echo "check-lib: exports $s, which is not part of the seq_ API"; status=1 ;;
    esac
done
declared=$(sed -n 's/^[^ /*#].*[ *]\(seq_[a-z0-9_]*\)(.*/\1/p' "$header" | sort)
for f in $declared; do
    echo "$exported" | grep -qx "$f" || { echo "check-lib: $header declares $f but the library does not export it"; status=1; }
done

count=$(echo "$exported" | grep -c . || true)
echo "check-lib: $lib: soname $soname; needs $(echo $needed | tr ' ' ','); exports $count seq_ symbols"
exit $status
