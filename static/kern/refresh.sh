#!/usr/bin/env bash
# Refreshes the vendored KERN UX assets in this folder from the npm registry:
#   static/kern/refresh.sh            the version named in VERSION
#   static/kern/refresh.sh 2.8.0      another version (then review the pages and commit)
# It takes the compiled CSS (kern.min.css), the Fira Sans font files that fira-sans.css
# loads, and the licence (EUPL-1.2) from the package @kern-ux/native, and writes the
# version to VERSION. Needs npm and tar; nothing else of the package is kept.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
version="${1:-$(cat "$here/VERSION")}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "@kern-ux/native@$version" >/dev/null)
tar -xzf "$work"/kern-ux-native-*.tgz -C "$work"
pkg="$work/package"
actual="$(node -p "require('$pkg/package.json').version")"
license="$(node -p "require('$pkg/package.json').license")"
[ "$license" = "EUPL-1.2" ] || { echo "licence changed to $license: check before vendoring" >&2; exit 1; }
rm -rf "$here/fonts"
mkdir -p "$here/fonts/fira-sans"
cp "$pkg/dist/kern.min.css" "$here/kern.min.css"
cp "$pkg/dist/fonts/fira-sans.css" "$here/fonts/fira-sans.css"
for f in $(grep -o 'fira-sans/[A-Za-z-]*\.woff2' "$pkg/dist/fonts/fira-sans.css" | sort -u); do
  cp "$pkg/dist/fonts/$f" "$here/fonts/$f"
done
cp "$pkg/LICENSE.md" "$here/LICENSE.md"
# The fonts are Fira Sans (SIL Open Font License 1.1), which @kern-ux/native ships without
# the licence text; it is taken from @fontsource/fira-sans.
(cd "$work" && npm pack --silent @fontsource/fira-sans >/dev/null)
mkdir -p "$work/ofl" && tar -xzf "$work"/fontsource-fira-sans-*.tgz -C "$work/ofl" package/LICENSE
{ echo "Fira Sans: Digitized data copyright (c) 2012-2015, The Mozilla Foundation and Telefonica S.A."
  echo
  sed -n '/^This Font Software is licensed/,$p' "$work/ofl/package/LICENSE"; } > "$here/fonts/fira-sans/OFL.txt"
echo "$actual" > "$here/VERSION"
echo "KERN UX @kern-ux/native $actual vendored into $here"
