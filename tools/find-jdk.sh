#!/usr/bin/env bash
# Prints the home of an installed JDK whose feature version is at least $1 (default 25).
# Looks at JAVA_HOME, the `java` on PATH, the alternatives system and the usual JVM folders,
# and checks each candidate by asking it for its version, never by its path.
set -euo pipefail
want="${1:-25}"

feature_version() {
  local javabin="$1"
  [ -x "$javabin" ] || return 1
  "$javabin" -XshowSettings:properties -version 2>&1 \
    | awk -F'= ' '/java.specification.version =/ {print $2; exit}'
}

candidates() {
  [ -n "${JAVA_HOME:-}" ] && echo "$JAVA_HOME"
  if command -v java >/dev/null 2>&1; then
    dirname "$(dirname "$(readlink -f "$(command -v java)")")"
  fi
  if command -v update-alternatives >/dev/null 2>&1; then
    update-alternatives --list java 2>/dev/null | while read -r j; do dirname "$(dirname "$(readlink -f "$j")")"; done
  fi
  for root in /usr/lib/jvm /usr/java /opt/java /opt "$HOME/.sdkman/candidates/java" "$HOME/.jdks"; do
    [ -d "$root" ] && find "$root" -maxdepth 3 -type f -path '*/bin/javac' 2>/dev/null \
      | while read -r c; do dirname "$(dirname "$(readlink -f "$c")")"; done
  done
}

best=""
best_v=0
while read -r home; do
  [ -n "$home" ] && [ -x "$home/bin/javac" ] || continue
  v="$(feature_version "$home/bin/java" || true)"
  v="${v%%.*}"
  [[ "$v" =~ ^[0-9]+$ ]] || continue
  if [ "$v" -ge "$want" ] && { [ -z "$best" ] || [ "$v" -lt "$best_v" ]; }; then
    best="$home"; best_v="$v"
  fi
done < <(candidates | awk '!seen[$0]++')

if [ -z "$best" ]; then
  echo "no JDK with feature version >= $want found (looked at JAVA_HOME, PATH, alternatives, /usr/lib/jvm, /opt)" >&2
  exit 1
fi
echo "$best"
