//go:build tools

// Package cpbuild pins the control-plane commands that e2e/scripts/build-binaries.sh builds
// (`go build k8s.io/kubernetes/cmd/...` from this module), so `go mod tidy` keeps their
// requirements. The build tag keeps it out of every real build.
package cpbuild

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
)
