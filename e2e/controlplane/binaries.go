package controlplane

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Pinned versions; keep them in step with e2e/scripts/build-binaries.sh and e2e/cpbuild/go.mod.
const (
	KubernetesVersion = "v1.34.4"
	EtcdVersion       = "v3.6.4"
	KWOKVersion       = "v0.7.0"
)

// BuildCommand is what builds the binaries; errors about missing binaries quote it.
const BuildCommand = "make cluster-bins"

// ErrBinariesMissing means the control-plane binaries have not been built.
var ErrBinariesMissing = errors.New("controlplane: binaries missing")

var binaryNames = []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok"}

// BinDir is where the binaries live: $YARD_CLUSTER_BIN, else
// ${XDG_CACHE_HOME:-$HOME/.cache}/yard/k8s-<version>/bin.
func BinDir() string {
	if d := os.Getenv("YARD_CLUSTER_BIN"); d != "" {
		return d
	}
	cache := os.Getenv("XDG_CACHE_HOME")
	if cache == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			home = os.TempDir()
		}
		cache = filepath.Join(home, ".cache")
	}
	return filepath.Join(cache, "yard", "k8s-"+KubernetesVersion, "bin")
}

// CheckBinaries reports which binaries are missing from dir, naming the command that builds them.
func CheckBinaries(dir string) error {
	var missing []string
	for _, b := range binaryNames {
		st, err := os.Stat(filepath.Join(dir, b))
		if err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
			missing = append(missing, b)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w in %s (%s): run `%s` from the repository root",
			ErrBinariesMissing, dir, strings.Join(missing, ", "), BuildCommand)
	}
	return nil
}
