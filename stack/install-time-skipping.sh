#!/usr/bin/env bash
# Installs Temporal's time-skipping test server (Java, from Maven Central) into .tools/time-skipping and
# prints the path of a launcher the SDK can run as an `existing-path` executable (`<launcher> <port>`).
# The SDK's own createTimeSkipping() downloads a native build from GitHub, which is not reachable here.
set -euo pipefail
cd "$(dirname "$0")/.."
target=.tools/time-skipping
launcher="$PWD/$target/test-server"
if [ ! -f "$target/lib/.complete" ]; then
  command -v java >/dev/null 2>&1 && command -v mvn >/dev/null 2>&1 || {
    apt-get update -qq >&2 && apt-get install -y -qq openjdk-17-jre-headless maven >/dev/null >&2
  }
  rm -rf "$target/lib"
  mvn -q -f stack/time-skipping/pom.xml dependency:copy-dependencies -DoutputDirectory="$PWD/$target/lib" >&2
  touch "$target/lib/.complete"
fi
cat > "$launcher" <<LAUNCHER
#!/usr/bin/env bash
exec java -cp '$PWD/$target/lib/*' io.temporal.testserver.TestServer "\$@"
LAUNCHER
chmod +x "$launcher"
echo "$launcher"
