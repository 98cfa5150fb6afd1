package integration

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/yardhq/yard/server/audit"
	"github.com/yardhq/yard/server/errcode"
	"github.com/yardhq/yard/server/internal/testwait"
	"github.com/yardhq/yard/server/write"
)

func deploymentYAML(name string, replicas int, image string) string {
	return fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: %[1]s
spec:
  replicas: %[2]d
  selector:
    matchLabels: {app: %[1]s}
  template:
    metadata:
      labels: {app: %[1]s}
    spec:
      containers:
      - name: app
        image: %[3]s
`, name, replicas, image)
}

func configMapYAML(name, value string) string {
	return fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: %s\n  namespace: team-a\ndata:\n  key: %q\n", name, value)
}

func sha(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// bob (edit in team-a) applies a Deployment and a ConfigMap: created, then unchanged, then
// configured with a diff after an edit; each attempt is audited with the diff's hash.
func TestApplyCreatesThenUnchangedThenConfigured(t *testing.T) {
	s := start(t, nil)
	bob := s.SignIn(t, "bob", false)
	dep, cm := unique("w-dep"), unique("w-cm")
	body := deploymentYAML(dep, 1, "nginx:1.27") + "---\n" + configMapYAML(cm, "one")

	hdr := http.Header{"X-Request-ID": {"req-apply-1"}}
	status, r, raw := s.apply(t, bob, "namespace=team-a", body, hdr)
	if status != http.StatusOK || len(r.Results) != 2 || r.DryRun {
		t.Fatalf("first apply: %d %s", status, raw)
	}
	for i, kind := range []string{"Deployment", "ConfigMap"} {
		res := r.Results[i]
		if res.Kind != kind || res.Namespace != "team-a" || res.Action != write.ActionCreated || res.Error != nil ||
			!strings.Contains(res.Diff, "+kind: "+kind) || !strings.HasPrefix(res.Diff, "--- live\n+++ applied\n") {
			t.Fatalf("first apply, %s: %+v", kind, res)
		}
	}
	k, _ := admin(t, s.cp)
	if _, err := k.AppsV1().Deployments("team-a").Get(ctx(t), dep, metav1.GetOptions{}); err != nil {
		t.Fatalf("the deployment is not in the cluster: %v", err)
	}
	got, err := k.CoreV1().ConfigMaps("team-a").Get(ctx(t), cm, metav1.GetOptions{})
	if err != nil || got.Data["key"] != "one" {
		t.Fatalf("the configmap: %v %v", got, err)
	}
	owners := map[string]bool{}
	for _, mf := range got.ManagedFields {
		owners[mf.Manager] = true
	}
	if !owners["yard"] {
		t.Fatalf("field managers %v: want yard", owners)
	}

	es := find(s.entries(t, "bob"), audit.VerbApply, "team-a", cm)
	if len(es) != 1 || es[0].Result != audit.ResultOK || es[0].DryRun || es[0].Kind != "ConfigMap" ||
		es[0].RequestID != "req-apply-1" || es[0].DiffSHA256 != sha(r.Results[1].Diff) || es[0].Replica == "" {
		t.Fatalf("audit of the first apply: %+v", es)
	}

	// The deployment controller writes the object too (its revision annotation); an apply made
	// while it does sees that change between its read and its write. Apply again once it is done.
	testwait.Until(t, 30*time.Second, 50*time.Millisecond, "the deployment controller's revision annotation", func() bool {
		d, err := k.AppsV1().Deployments("team-a").Get(ctx(t), dep, metav1.GetOptions{})
		return err == nil && d.Annotations["deployment.kubernetes.io/revision"] != ""
	})
	status, r, raw = s.apply(t, bob, "namespace=team-a", body, nil)
	if status != http.StatusOK || r.Results[0].Action != write.ActionUnchanged || r.Results[1].Action != write.ActionUnchanged ||
		r.Results[0].Diff != "" || r.Results[1].Diff != "" {
		t.Fatalf("second apply: %d %s", status, raw)
	}

	// A dry run of an edit says what would change and changes nothing.
	edited := deploymentYAML(dep, 1, "nginx:1.27") + "---\n" + configMapYAML(cm, "two")
	status, r, raw = s.apply(t, bob, "namespace=team-a&dryRun=true", edited, nil)
	if status != http.StatusOK || !r.DryRun || r.Results[1].Action != write.ActionConfigured {
		t.Fatalf("dry run of the edit: %d %s", status, raw)
	}
	if got, _ := k.CoreV1().ConfigMaps("team-a").Get(ctx(t), cm, metav1.GetOptions{}); got.Data["key"] != "one" {
		t.Fatalf("a dry run changed the configmap: %v", got.Data)
	}
	status, r, raw = s.apply(t, bob, "namespace=team-a", edited, nil)
	d := r.Results[1].Diff
	if status != http.StatusOK || r.Results[0].Action != write.ActionUnchanged || r.Results[1].Action != write.ActionConfigured ||
		!strings.Contains(d, "-  key: one\n") || !strings.Contains(d, "+  key: two\n") || strings.Contains(d, "managedFields") ||
		strings.Contains(d, "resourceVersion") {
		t.Fatalf("apply of the edit: %d %s", status, raw)
	}
	if got, _ := k.CoreV1().ConfigMaps("team-a").Get(ctx(t), cm, metav1.GetOptions{}); got.Data["key"] != "two" {
		t.Fatalf("the edit did not reach the cluster: %v", got.Data)
	}
	es = find(s.entries(t, "bob"), audit.VerbApply, "team-a", cm)
	if len(es) != 4 || !es[2].DryRun || es[3].DryRun || es[3].DiffSHA256 != sha(d) {
		t.Fatalf("audit after four applies: %+v", es)
	}
}

// With one invalid object among several, nothing is applied: every dry run must pass first.
func TestApplyWithOneInvalidObjectAppliesNothing(t *testing.T) {
	s := start(t, nil)
	bob := s.SignIn(t, "bob", false)
	cm, dep := unique("w-ok"), unique("w-bad")
	bad := strings.Replace(deploymentYAML(dep, 1, "nginx"), "matchLabels: {app: "+dep+"}", "matchLabels: {app: other}", 1)
	status, r, raw := s.apply(t, bob, "namespace=team-a", configMapYAML(cm, "x")+"---\n"+bad, nil)
	if status != http.StatusUnprocessableEntity || r.Error == nil || r.Error.Code != errcode.Invalid || len(r.Results) != 2 {
		t.Fatalf("apply with an invalid object: %d %s", status, raw)
	}
	if r.Results[0].Error != nil || r.Results[0].Action != write.ActionCreated || r.Results[1].Error == nil ||
		r.Results[1].Error.Code != errcode.Invalid || !strings.Contains(r.Results[1].Error.Message, "selector") {
		t.Fatalf("per-object results: %s", raw)
	}
	k, _ := admin(t, s.cp)
	if _, err := k.CoreV1().ConfigMaps("team-a").Get(ctx(t), cm, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("the valid configmap was applied anyway: %v", err)
	}
	es := find(s.entries(t, "bob"), audit.VerbApply, "team-a", cm)
	if len(es) != 1 || es[0].Result != audit.ResultFailed {
		t.Fatalf("audit of the unapplied object: %+v", es)
	}
}

// carol (view in demo) may not apply: the dry run is refused by RBAC and audited as refused.
func TestApplyRefusedByRBAC(t *testing.T) {
	s := start(t, nil)
	carol := s.SignIn(t, "carol", false)
	cm := unique("w-carol")
	status, r, raw := s.apply(t, carol, "namespace=demo", strings.Replace(configMapYAML(cm, "x"), "team-a", "demo", 1), nil)
	if status != http.StatusUnprocessableEntity || r.Results[0].Error == nil || r.Results[0].Error.Code != errcode.Forbidden ||
		!strings.Contains(r.Results[0].Error.Message, "carol") {
		t.Fatalf("carol's apply: %d %s", status, raw)
	}
	k, _ := admin(t, s.cp)
	if _, err := k.CoreV1().ConfigMaps("demo").Get(ctx(t), cm, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("carol's configmap exists: %v", err)
	}
	es := find(s.entries(t, "carol"), audit.VerbApply, "demo", cm)
	if len(es) != 1 || es[0].Result != audit.ResultRefused || es[0].ErrorCode != errcode.Forbidden || es[0].User != "carol" {
		t.Fatalf("audit of carol's apply: %+v", es)
	}
}

// A field owned by another field manager is a conflict naming the manager and the field;
// force=true takes it over.
func TestApplyConflictThenForce(t *testing.T) {
	s := start(t, nil)
	bob := s.SignIn(t, "bob", false)
	cm := unique("w-conflict")
	_, dyn := admin(t, s.cp)
	other := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{"name": cm, "namespace": "team-a"}, "data": map[string]any{"key": "theirs"}}}
	gvr := schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}
	if _, err := dyn.Resource(gvr).Namespace("team-a").Apply(ctx(t), cm, other, metav1.ApplyOptions{FieldManager: "helm-like"}); err != nil {
		t.Fatal(err)
	}
	status, r, raw := s.apply(t, bob, "", configMapYAML(cm, "ours"), nil)
	if status != http.StatusUnprocessableEntity || r.Results[0].Error == nil || r.Results[0].Error.Code != errcode.Conflict ||
		!strings.Contains(r.Results[0].Error.Message, "helm-like") || !strings.Contains(r.Results[0].Error.Message, ".data.key") {
		t.Fatalf("conflicting apply: %d %s", status, raw)
	}
	status, r, raw = s.apply(t, bob, "force=true", configMapYAML(cm, "ours"), nil)
	if status != http.StatusOK || r.Results[0].Action != write.ActionConfigured || !strings.Contains(r.Results[0].Diff, "+  key: ours") {
		t.Fatalf("forced apply: %d %s", status, raw)
	}
	got, err := dyn.Resource(gvr).Namespace("team-a").Get(ctx(t), cm, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if v, _, _ := unstructured.NestedString(got.Object, "data", "key"); v != "ours" {
		t.Fatalf("after force: data.key = %q", v)
	}
}

// A Secret's values appear in no diff, no log line and no audit entry.
func TestSecretValuesNeverLeave(t *testing.T) {
	s := start(t, nil)
	bob := s.SignIn(t, "bob", false)
	name := unique("w-secret")
	const plain, encoded, plain2 = "hunter2-plain-secret-value", "encoded-token-value-9876", "rotated-secret-value-5555"
	secret := func(p string) string {
		return fmt.Sprintf("apiVersion: v1\nkind: Secret\nmetadata:\n  name: %s\n  namespace: team-a\n"+
			"  annotations:\n    kubectl.kubernetes.io/last-applied-configuration: '{\"stringData\":{\"password\":\"%s\"}}'\n"+
			"stringData:\n  password: %s\ndata:\n  token: %s\n", name, p, p, base64.StdEncoding.EncodeToString([]byte(encoded)))
	}
	var bodies []string
	for _, step := range []struct{ query, value, action string }{
		{"dryRun=true", plain, write.ActionCreated},
		{"", plain, write.ActionCreated},
		{"", plain2, write.ActionConfigured},
	} {
		status, r, raw := s.apply(t, bob, step.query, secret(step.value), http.Header{"X-Yard-Room": {"secret-room"}})
		if status != http.StatusOK || r.Results[0].Action != step.action {
			t.Fatalf("apply %q: %d %s", step.query, status, raw)
		}
		if step.action == write.ActionCreated && !strings.Contains(r.Results[0].Diff, "password: "+write.Redacted) ||
			step.action == write.ActionConfigured && !strings.Contains(r.Results[0].Diff, "+  password: "+write.RedactedChanged) {
			t.Fatalf("the diff does not show the redacted value: %s", r.Results[0].Diff)
		}
		bodies = append(bodies, string(raw))
	}
	k, _ := admin(t, s.cp)
	if got, err := k.CoreV1().Secrets("team-a").Get(ctx(t), name, metav1.GetOptions{}); err != nil || string(got.Data["password"]) != plain2 {
		t.Fatalf("the secret in the cluster: %v", err)
	}
	auditJSON, _ := json.Marshal(s.entries(t, "bob"))
	for what, text := range map[string]string{"responses": strings.Join(bodies, "\n"), "server log": s.logs.String(), "audit": string(auditJSON)} {
		for _, v := range []string{plain, plain2, encoded, base64.StdEncoding.EncodeToString([]byte(plain)),
			base64.StdEncoding.EncodeToString([]byte(plain2)), base64.StdEncoding.EncodeToString([]byte(encoded))} {
			if strings.Contains(text, v) {
				t.Errorf("the %s contain the secret value %q", what, v)
			}
		}
	}
	if !strings.Contains(s.logs.String(), name) {
		t.Fatalf("the server log does not mention the write at all (the check above proves nothing):\n%s", s.logs.String())
	}
}

// Bad input gets a coded error and changes nothing.
func TestBadInput(t *testing.T) {
	s := start(t, nil)
	bob := s.SignIn(t, "bob", false)
	huge := "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: huge, namespace: team-a}\ndata:\n  k: \"" + strings.Repeat("x", 10<<20) + "\"\n"
	for _, c := range []struct {
		name, method, path, ctype, body string
		status                          int
		code                            string
	}{
		{"not YAML", "POST", "/api/apply", "application/yaml", "a: [b\n  c: }", 400, errcode.BadParams},
		{"a scalar", "POST", "/api/apply", "application/yaml", "just text", 400, errcode.BadParams},
		{"empty", "POST", "/api/apply", "application/yaml", "---\n", 400, errcode.BadParams},
		{"10 MB", "POST", "/api/apply", "application/yaml", huge, 400, errcode.BadParams},
		{"unknown kind", "POST", "/api/apply", "application/yaml", "apiVersion: nope.example.com/v1\nkind: Nope\nmetadata: {name: x}\n", 400, errcode.BadParams},
		{"name with /", "POST", "/api/apply?namespace=team-a", "application/yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a/b}\n", 400, errcode.BadParams},
		{"no name", "POST", "/api/apply?namespace=team-a", "application/yaml", "apiVersion: v1\nkind: ConfigMap\n", 400, errcode.BadParams},
		{"bad JSON", "POST", "/api/apply", "application/json", `{"objects":[1]}`, 400, errcode.BadParams},
		{"bad content type", "POST", "/api/apply", "text/plain", "x", 400, errcode.BadParams},
		{"bad dryRun", "POST", "/api/apply?dryRun=maybe", "application/yaml", configMapYAML("x", "y"), 400, errcode.BadParams},
		{"bad room", "POST", "/api/apply", "application/yaml", configMapYAML("x", "y"), 400, errcode.BadParams},
		{"unknown cluster", "POST", "/api/apply?cluster=nope", "application/yaml", configMapYAML("x", "y"), 404, errcode.NotFound},
		{"scale unknown kind", "POST", "/api/resource/nopes/web/scale?namespace=team-a", "application/json", `{"replicas":1}`, 404, errcode.NotFound},
		{"scale a configmap", "POST", "/api/resource/configmaps/app-config/scale?namespace=team-a", "application/json", `{"replicas":1}`, 400, errcode.BadParams},
		{"restart a service", "POST", "/api/resource/services/web/restart?namespace=team-a", "", "", 400, errcode.BadParams},
		{"scale without replicas", "POST", "/api/resource/deployments/web/scale?namespace=team-a", "application/json", `{"n":1}`, 400, errcode.BadParams},
		{"negative replicas", "POST", "/api/resource/deployments/web/scale?namespace=team-a", "application/json", `{"replicas":-1}`, 400, errcode.BadParams},
		{"name with %2F", "DELETE", "/api/resource/deployments/a%2Fb?namespace=team-a", "", "", 400, errcode.BadParams},
		{"no namespace", "DELETE", "/api/resource/deployments/web", "", "", 400, errcode.BadParams},
		{"bad propagation", "DELETE", "/api/resource/deployments/web?namespace=team-a&propagation=Now", "", "", 400, errcode.BadParams},
		{"object not found", "POST", "/api/resource/deployments/does-not-exist/restart?namespace=team-a", "", "", 404, errcode.NotFound},
	} {
		t.Run(c.name, func(t *testing.T) {
			var h http.Header
			if c.name == "bad room" {
				h = http.Header{"X-Yard-Room": {"no spaces allowed"}}
			}
			status, b := s.call(t, c.method, bob, c.path, c.ctype, c.body, h)
			if status != c.status || errCode(t, b) != c.code {
				t.Fatalf("%d %.300s, want %d %s", status, b, c.status, c.code)
			}
		})
	}
	k, _ := admin(t, s.cp)
	if _, err := k.CoreV1().ConfigMaps("team-a").Get(ctx(t), "huge", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("the oversized configmap exists: %v", err)
	}
}
