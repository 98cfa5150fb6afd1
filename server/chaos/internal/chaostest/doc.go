// Package chaostest is the world the long-running suites (`make chaos`, `make soak`) build on:
// a real Redis, `yard` processes started by name on it and on a local control plane, the
// clients those suites drive (shell terminals, log followers, watch views) and the RESULT lines
// hack/chaos.sh and hack/soak.sh gather. It takes the control plane's kubeconfig instead of the
// control plane itself, because nothing under server/ outside tests imports e2e/.
package chaostest
