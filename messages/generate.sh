#!/usr/bin/env bash
# Regenerates messages/*.pb.go from messages/*.proto with buf and protoc-gen-go at pinned
# versions. No protoc is needed: buf compiles the .proto files itself.
set -euo pipefail

BUF_VERSION=v1.75.0
PROTOC_GEN_GO_VERSION=v1.36.12

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
gobin="$(go env GOBIN)"
if [ -z "$gobin" ]; then
	gobin="$(go env GOPATH)/bin"
fi
export PATH="$gobin:$PATH"

# install_tool PKG VERSION BINARY installs PKG@VERSION unless BINARY already reports VERSION.
install_tool() {
	local pkg="$1" version="$2" bin="$3"
	if [ -x "$gobin/$bin" ] && go version -m "$gobin/$bin" | grep -q "mod.*$version"; then
		return
	fi
	echo "installing $pkg@$version" >&2
	# Outside the module, so that our go.mod is never touched.
	(cd / && go install "$pkg@$version")
}

install_tool github.com/bufbuild/buf/cmd/buf "$BUF_VERSION" buf
install_tool google.golang.org/protobuf/cmd/protoc-gen-go "$PROTOC_GEN_GO_VERSION" protoc-gen-go

cd "$here"
buf generate
