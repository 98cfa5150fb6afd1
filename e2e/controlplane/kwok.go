package controlplane

import (
	"embed"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// NoBashContainer is the container name whose exec environment has sh but no bash (PATH holds
// only the few tools in <dir>/shonly), for testing a shell's fallback from bash to sh. Any pod
// may have a container of that name; the demo namespace has one, pod "minimal".
const NoBashContainer = "nobash"

// UnpullableImage is an image KWOK's node cannot pull: a pod running it stays Pending with the
// container waiting in ErrImagePull (stages/pod-image-pull-failed.yaml).
const UnpullableImage = "registry.invalid/yard/unpullable:v1"

// podStages are the pod stages KWOK runs (stages/README.md): its built-in fast stages, which any
// configured pod stage replaces, plus the image pull failure.
//
//go:embed stages/*.yaml
var podStages embed.FS

// shOnlyTools are what a minimal image might carry; bash is deliberately absent.
var shOnlyTools = []string{"sh", "ls", "cat", "echo", "env", "pwd", "stty", "sleep", "id", "uname", "tty"}

// writeKWOKConfig writes the ClusterExec and ClusterLogs rules. The patched KWOK (see
// e2e/cpbuild/kwokpatch) expands {namespace}, {pod} and {container}, so each pod gets its own
// sandbox directory and each container its own CRI log file.
func (c *ControlPlane) writeKWOKConfig() error {
	shonly := filepath.Join(c.dir, "shonly")
	if err := os.MkdirAll(shonly, 0o755); err != nil {
		return fmt.Errorf("controlplane: %w", err)
	}
	for _, t := range shOnlyTools {
		target, err := exec.LookPath(t)
		if err != nil {
			continue
		}
		link := filepath.Join(shonly, t)
		_ = os.Remove(link)
		if err := os.Symlink(target, link); err != nil {
			return fmt.Errorf("controlplane: %w", err)
		}
	}
	sandbox := filepath.Join(c.dir, "sandboxes", "{namespace}", "{pod}")
	logs := filepath.Join(c.dir, "pods", "{namespace}", "{pod}", "{container}.log")
	yaml := strings.NewReplacer("$SANDBOX", sandbox, "$LOGS", logs, "$SHONLY", shonly,
		"$MARK", sandboxEnv, "$DIR", c.dir, "$NOBASH", NoBashContainer).Replace(`apiVersion: kwok.x-k8s.io/v1alpha1
kind: ClusterExec
metadata:
  name: sandbox
spec:
  execs:
  - containers: ["$NOBASH"]
    local:
      workDir: "$SANDBOX"
      envs:
      - {name: PATH, value: "$SHONLY"}
      - {name: $MARK, value: "$DIR"}
  - local:
      workDir: "$SANDBOX"
      envs:
      - {name: $MARK, value: "$DIR"}
---
apiVersion: kwok.x-k8s.io/v1alpha1
kind: ClusterLogs
metadata:
  name: logs
spec:
  logs:
  - logsFile: "$LOGS"
    follow: true
`)
	names, err := podStages.ReadDir("stages")
	if err != nil {
		return fmt.Errorf("controlplane: %w", err)
	}
	for _, n := range names {
		b, err := podStages.ReadFile("stages/" + n.Name())
		if err != nil {
			return fmt.Errorf("controlplane: %w", err)
		}
		yaml += "---\n" + string(b)
	}
	if err := os.WriteFile(filepath.Join(c.dir, "kwok.yaml"), []byte(yaml), 0o644); err != nil {
		return fmt.Errorf("controlplane: %w", err)
	}
	return nil
}
