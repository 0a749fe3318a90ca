#!/usr/bin/env bash
# Runs the C ABI's misuse test, attach test and example engine loop under a memory checker and fails on
# any error it reports.
#
#   check-memory.sh [CLASSPATH]             AddressSanitizer + UndefinedBehaviorSanitizer (default;
#                                           the Maven build runs this, a few seconds)
#   check-memory.sh --valgrind [CLASSPATH]  valgrind memcheck (minutes; run by hand)
#
# CLASSPATH defaults to $KVTIER_CLASSPATH, else the reactor's target/classes folders.
#
# The JVM makes both tools noisy, so each is set up for it:
# - ASan instruments libkvtier.so and the test programs, not the JVM. The JVM uses SIGSEGV and
#   SIGBUS itself (implicit null checks, safepoint polls, stack banging), so ASan must leave those
#   signals to it (handle_segv=0, handle_sigbus=0, allow_user_segv_handler=1). LeakSanitizer
#   cannot stop the world of a process with JVM threads in it, so detect_leaks=0; valgrind checks
#   leaks instead.
# - valgrind sees everything, the JVM included: jvm.supp suppresses errors whose innermost frame is
#   in the JVM or its JIT-generated code (stack banging below the stack pointer, reads of its own
#   reserved memory), so what remains is errors in libkvtier and the programs, and definite leaks.
#   --num-callers=500 lets every JVM stack reach its libjvm.so frame, however deep the Java stack.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"

mode=asan
if [ "${1:-}" = "--valgrind" ]; then
  mode=valgrind
  shift
fi
cp="${1:-${KVTIER_CLASSPATH:-$root/kvtier-cabi/target/classes:$root/kvtier-core/target/classes:$root/kvtier-api/target/classes}}"
JAVA_HOME="${JAVA_HOME:-$("$root/tools/find-jdk.sh" 25)}"
export JAVA_HOME KVTIER_CLASSPATH="$cp"

run_checked() { # name, command...
  local name="$1" out rc
  shift
  out="$build/$name.$mode.out"
  echo "== $name under $mode"
  set +e
  "$@" >"$out" 2>&1
  rc=$?
  set -e
  if [ $rc -ne 0 ] || ! grep -q "^$name: OK" "$out" \
      || grep -q -e "ERROR: AddressSanitizer" -e "runtime error:" "$out"; then
    cat "$out"
    echo "$name: memory check failed (exit $rc)" >&2
    exit 1
  fi
  if [ "$mode" = valgrind ]; then
    grep -E "ERROR SUMMARY|definitely lost" "$out" || true
  fi
  grep "^$name: OK" "$out"
}

start=$(date +%s)
case "$mode" in
  asan)
    build="$root/native/build/cabi-asan"
    make -s -C "$here" all SANITIZE=address,undefined BUILD="$build" JAVA_HOME="$JAVA_HOME"
    export ASAN_OPTIONS="handle_segv=0:handle_sigbus=0:handle_sigfpe=0:allow_user_segv_handler=1:detect_leaks=0:halt_on_error=1:exitcode=98"
    export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
    run_checked test_misuse "$build/test_misuse"
    run_checked test_attach "$build/test_attach"
    run_checked engine_loop "$build/engine_loop"
    ;;
  valgrind)
    command -v valgrind >/dev/null || { echo "valgrind is not installed" >&2; exit 1; }
    build="$root/native/build/cabi"
    make -s -C "$here" all BUILD="$build" JAVA_HOME="$JAVA_HOME"
    vg=(valgrind --error-exitcode=97 --smc-check=all-non-file --suppressions="$here/jvm.supp"
        --leak-check=full --errors-for-leak-kinds=definite --show-leak-kinds=definite
        --num-callers=500)
    run_checked test_misuse "${vg[@]}" "$build/test_misuse"
    run_checked test_attach "${vg[@]}" "$build/test_attach"
    run_checked engine_loop "${vg[@]}" "$build/engine_loop"
    ;;
esac
echo "check-memory ($mode): OK in $(( $(date +%s) - start )) s"
