package write

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/yardhq/yard/crdt"
	"github.com/yardhq/yard/server/errcode"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestDecodeObjects(t *testing.T) {
	yaml := "# leading comment\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: {n: \"1\"}\n---\n---\n" +
		"apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: Secret, metadata: {name: b}}\n- {apiVersion: apps/v1, kind: Deployment, metadata: {name: c}, spec: {replicas: 2}}\n"
	objs, err := DecodeObjects("application/yaml; charset=utf-8", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, o := range objs {
		names = append(names, o.GetKind()+"/"+o.GetName())
	}
	if strings.Join(names, ",") != "ConfigMap/a,Secret/b,Deployment/c" {
		t.Fatalf("objects: %v", names)
	}
	if r, _, _ := unstructured.NestedInt64(objs[2].Object, "spec", "replicas"); r != 2 {
		t.Fatalf("replicas decoded as %v, want the int64 2", objs[2].Object["spec"])
	}
	objs, err = DecodeObjects("application/json", []byte(`{"objects":[{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"j"}}]}`))
	if err != nil || len(objs) != 1 || objs[0].GetName() != "j" {
		t.Fatalf("JSON: %v %v", objs, err)
	}
	objs, err = DecodeObjects("", []byte(`{"objects":[{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"k"}}]}`))
	if err != nil || len(objs) != 1 {
		t.Fatalf("JSON without a content type: %v %v", objs, err)
	}
	for name, c := range map[string]struct{ ctype, body string }{
		"not YAML":          {"application/yaml", "a: [b\n  c: }"},
		"scalar":            {"application/yaml", "hello"},
		"list document":     {"application/yaml", "- a\n- b\n"},
		"nothing":           {"application/yaml", "---\n# only a comment\n"},
		"JSON, other shape": {"application/json", `[{"kind":"ConfigMap"}]`},
		"JSON, extra field": {"application/json", `{"objects":[],"force":true}`},
		"JSON, no objects":  {"application/json", `{"objects":[]}`},
		"content type":      {"text/html", "<p>"},
		"bad list item":     {"application/yaml", "apiVersion: v1\nkind: List\nitems: [1]\n"},
	} {
		if _, err := DecodeObjects(c.ctype, []byte(c.body)); errcode.As(err).Code != errcode.BadParams {
			t.Errorf("%s: %v, want bad_params", name, err)
		}
	}
}

func obj(y string) *unstructured.Unstructured {
	objs, err := DecodeObjects("application/yaml", []byte(y))
	if err != nil {
		panic(err)
	}
	return objs[0]
}

func TestDiffObjects(t *testing.T) {
	live := obj(`apiVersion: v1
kind: ConfigMap
metadata:
  name: a
  namespace: ns
  resourceVersion: "12"
  uid: u-1
  creationTimestamp: "2026-01-01T00:00:00Z"
  managedFields: [{manager: yard}]
  annotations: {kubectl.kubernetes.io/last-applied-configuration: "{}"}
data: {k: one, same: s}
`)
	same := live.DeepCopy()
	same.SetResourceVersion("13")
	unstructured.RemoveNestedField(same.Object, "metadata", "managedFields")
	if d, a := diffObjects(live, same); a != ActionUnchanged || d != "" {
		t.Fatalf("only maintained fields differ: %q %q", a, d)
	}
	changed := same.DeepCopy()
	_ = unstructured.SetNestedField(changed.Object, "two", "data", "k")
	d, a := diffObjects(live, changed)
	want := "--- live\n+++ applied\n@@ -1,6 +1,6 @@\n apiVersion: v1\n data:\n-  k: one\n+  k: two\n   same: s\n kind: ConfigMap\n metadata:\n"
	if a != ActionConfigured || d != want {
		t.Fatalf("changed: %q\n%s\nwant\n%s", a, d, want)
	}
	if strings.Contains(d, "last-applied") || strings.Contains(d, "resourceVersion") {
		t.Fatalf("maintained fields in the diff:\n%s", d)
	}
	d, a = diffObjects(nil, changed)
	if a != ActionCreated || !strings.Contains(d, "@@ -0,0 +1,") || !strings.Contains(d, "+kind: ConfigMap\n") {
		t.Fatalf("created: %q\n%s", a, d)
	}
}

func TestSecretsAreRedacted(t *testing.T) {
	enc := base64.StdEncoding.EncodeToString([]byte("s3cret-token"))
	secret := obj("apiVersion: v1\nkind: Secret\nmetadata: {name: s, annotations: {kubectl.kubernetes.io/last-applied-configuration: 'pw: plain-password'}}\n" +
		"data: {token: " + enc + "}\nstringData: {pw: plain-password}\n")
	d, _ := diffObjects(nil, secret)
	for _, v := range []string{enc, "s3cret-token", "plain-password"} {
		if strings.Contains(d, v) {
			t.Fatalf("the diff shows %q:\n%s", v, d)
		}
	}
	if !strings.Contains(d, "token: "+Redacted) || !strings.Contains(d, "pw: "+Redacted) {
		t.Fatalf("the diff does not name the redacted keys:\n%s", d)
	}
	if secret.Object["stringData"].(map[string]any)["pw"] != "plain-password" {
		t.Fatal("redaction changed the object itself")
	}
	rotated := secret.DeepCopy()
	_ = unstructured.SetNestedField(rotated.Object, "other-password", "stringData", "pw")
	d, a := diffObjects(secret, rotated)
	if a != ActionConfigured || !strings.Contains(d, "-  pw: "+Redacted+"\n") || !strings.Contains(d, "+  pw: "+RedactedChanged+"\n") ||
		strings.Contains(d, "password") || strings.Contains(d, "token: "+RedactedChanged) {
		t.Fatalf("rotation: %s\n%s", a, d)
	}
	e := scrub(&ObjectError{Code: errcode.Invalid, Message: `data[token]: Invalid value: "s3cret-token" and ` + enc + ` and plain-password`}, secret)
	if strings.Contains(e.Message, "s3cret") || strings.Contains(e.Message, "plain-password") || strings.Contains(e.Message, enc) {
		t.Fatalf("scrubbed message: %s", e.Message)
	}
	cm := obj("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {k: visible-value}\n")
	if d, _ := diffObjects(nil, cm); !strings.Contains(d, "visible-value") {
		t.Fatalf("a ConfigMap's values are shown:\n%s", d)
	}
}

func TestObjectError(t *testing.T) {
	gr := schema.GroupResource{Resource: "configmaps"}
	for _, c := range []struct {
		err  error
		code string
	}{
		{apierrors.NewForbidden(gr, "x", errors.New("no")), errcode.Forbidden},
		{apierrors.NewNotFound(gr, "x"), errcode.NotFound},
		{apierrors.NewConflict(gr, "x", errors.New("conflict with \"other\": .data.k")), errcode.Conflict},
		{apierrors.NewInvalid(schema.GroupKind{Kind: "ConfigMap"}, "x", nil), errcode.Invalid},
		{apierrors.NewServiceUnavailable("down"), errcode.Unavailable},
		{errors.New("dial tcp: refused"), errcode.Unavailable},
		{errcode.Errorf(errcode.BadParams, "x"), errcode.BadParams},
	} {
		if got := objectError(c.err); got.Code != c.code {
			t.Errorf("%v: %s, want %s", c.err, got.Code, c.code)
		}
	}
	if objectError(nil) != nil {
		t.Fatal("nil error gave an object error")
	}
}

func TestActivityKeepsTheNewest(t *testing.T) {
	doc := crdt.NewDoc()
	for i := range ActivityKeep + 5 {
		doc.Transact(func(tx *crdt.Transaction) {
			AppendActivity(doc, tx, Activity{At: time.Unix(int64(i), 0), User: "u", Verb: "apply", Kind: "ConfigMap",
				Namespace: "ns", Name: string(rune('a' + i%26)), Result: "ok"})
		})
	}
	arr := doc.GetArray(ActivityRoot).ToJSON()
	if len(arr) != ActivityKeep {
		t.Fatalf("%d entries, want %d", len(arr), ActivityKeep)
	}
	last := arr[len(arr)-1].(map[string]any)
	first := arr[0].(map[string]any)
	if last["at"] != time.Unix(ActivityKeep+4, 0).UTC().Format(time.RFC3339) || first["at"] != time.Unix(5, 0).UTC().Format(time.RFC3339) ||
		last["user"] != "u" || last["verb"] != "apply" || last["kind"] != "ConfigMap" || last["namespace"] != "ns" || last["result"] != "ok" {
		t.Fatalf("first %v, last %v", first, last)
	}
}
