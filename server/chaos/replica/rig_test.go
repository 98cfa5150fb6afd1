//go:build chaos

package replica

import (
	"testing"

	"github.com/go-logr/logr"
	"k8s.io/klog/v2"

	"github.com/yardhq/yard/e2e/controlplane"
	"github.com/yardhq/yard/server/chaos/internal/chaostest"
)

func TestMain(m *testing.M) {
	// client-go's executors report a closed stream through klog; every shell here ends so.
	klog.SetLogger(logr.Discard())
	controlplane.Main(m)
}

// rig is chaostest's world on the test binary's shared control plane, which scenarios also
// restart and write logs into.
type rig struct {
	*chaostest.Rig
	cp *controlplane.ControlPlane
}

type replica = chaostest.Replica

func newRig(t *testing.T, extra ...string) *rig {
	t.Helper()
	cp := controlplane.Shared(t)
	return &rig{Rig: chaostest.NewRig(t, chaostest.Cluster{Kubeconfig: cp.Kubeconfig(), REST: cp.RESTConfig()}, extra...), cp: cp}
}
