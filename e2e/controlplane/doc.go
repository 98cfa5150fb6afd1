// Package controlplane runs a real, private Kubernetes control plane on loopback for tests and
// demos: etcd, kube-apiserver, kube-controller-manager, kube-scheduler and KWOK standing in for
// the kubelet (exec runs a local process in a PTY in a sandbox directory per pod; logs are CRI
// files that a generator owned by the control plane keeps growing).
//
// Binaries come from `make cluster-bins` (e2e/scripts/build-binaries.sh), cached outside the
// checkout by version. Every process is started in its own process group and recorded in the
// state directory, so Stop, and the next Start in the same directory, can kill it by pid.
package controlplane
