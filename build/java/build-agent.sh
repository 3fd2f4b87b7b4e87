#!/bin/sh
# Builds the Java agent in build/java/<name>: its sources compiled by the JDK's javac against the jars
# in <libs dir> (resolved from build/maven/<name>/pom.xml), packed with the JDK's jar tool into
# <output dir>/<name>.jar beside copies of those jars, which its manifest names (Class-Path) after
# build/java/<name>/MANIFEST.MF. No Maven plugin is involved. The launcher runs it natively
# (launcher/installers.py) and compose/images/flink/Dockerfile runs it in the image build.
# usage: build-agent.sh <name> <libs dir> <output dir>
set -eu
[ $# -eq 3 ] || { echo "usage: $0 <name> <libs dir> <output dir>" >&2; exit 2; }
name=$1 libs=$2 out=$3
src=$(cd "$(dirname "$0")/$name" && pwd)
classes=$out/classes
rm -rf "$classes" && mkdir -p "$classes"
classpath=$(find "$libs" -maxdepth 1 -name '*.jar' | sort | tr '\n' ':')
[ -n "$classpath" ] || { echo "no jars in $libs" >&2; exit 1; }
find "$src/src" -name '*.java' | sort > "$out/sources.txt"
javac --release 17 -Xlint:all,-classfile -Werror -cp "$classpath" -d "$classes" "@$out/sources.txt"
cp "$libs"/*.jar "$out"/
{ cat "$src/MANIFEST.MF"; printf 'Class-Path: %s\n' "$(cd "$libs" && ls *.jar | sort | tr '\n' ' ' | sed 's/ $//')"; } > "$out/MANIFEST.MF"
jar --create --file "$out/$name.jar" --manifest "$out/MANIFEST.MF" -C "$classes" .
rm -rf "$classes" "$out/sources.txt"
