// Package replica holds the chaos scenarios of replicas and the control plane (`make chaos`,
// results in docs/reliability.md): two `yard` processes on one real Redis and the local control
// plane, while clients edit, share a shell, deploy, watch and follow logs, a replica is
// SIGKILLed or SIGSTOPped and the apiserver is restarted, and each scenario asserts its
// guarantee. The tests build only with the `chaos` tag, so `make test` never runs them.
package replica
