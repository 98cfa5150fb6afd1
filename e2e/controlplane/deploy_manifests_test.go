package controlplane_test

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"

	"github.com/yardhq/yard/e2e/controlplane"
)

// readManifests decodes every object of the deploy/ manifests.
func readManifests(t *testing.T) []*unstructured.Unstructured {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("..", "..", "deploy", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests in deploy/: %v", err)
	}
	var objs []*unstructured.Unstructured
	for _, f := range files {
		r, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		dec := utilyaml.NewYAMLOrJSONDecoder(r, 4096)
		for {
			var u unstructured.Unstructured
			if err := dec.Decode(&u.Object); errors.Is(err, io.EOF) {
				break
			} else if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			if len(u.Object) > 0 {
				objs = append(objs, &u)
			}
		}
		r.Close()
	}
	return objs
}

// TestDeployManifests checks deploy/ against a real apiserver: every object passes a server-side
// dry run, and Yard's service account really is limited to acting as the user: it may impersonate
// (and the impersonated user's RBAC then decides), but may not write on its own.
func TestDeployManifests(t *testing.T) {
	cp := controlplane.Shared(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cfg := cp.RESTConfig()
	typed := kubernetes.NewForConfigOrDie(cfg)
	dyn := dynamic.NewForConfigOrDie(cfg)
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(discovery.NewDiscoveryClientForConfigOrDie(cfg)))

	objs := readManifests(t)
	// Namespaced objects can be dry-run only into a namespace that exists.
	_, err := typed.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "yard"}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	var kinds []string
	for _, o := range objs {
		gvk := o.GroupVersionKind()
		kinds = append(kinds, gvk.Kind)
		m, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if err != nil {
			t.Fatalf("%s %s: %v", gvk.Kind, o.GetName(), err)
		}
		var ri dynamic.ResourceInterface = dyn.Resource(m.Resource)
		if m.Scope.Name() == meta.RESTScopeNameNamespace {
			ri = dyn.Resource(m.Resource).Namespace(o.GetNamespace())
		}
		_, err = ri.Create(ctx, o, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		if gvk.Kind == "Namespace" && apierrors.IsAlreadyExists(err) {
			continue
		}
		if err != nil {
			t.Errorf("dry run of %s %s/%s refused: %v", gvk.Kind, o.GetNamespace(), o.GetName(), err)
		}
	}
	for _, want := range []string{"Deployment", "StatefulSet", "Service", "ServiceAccount", "ClusterRole", "ClusterRoleBinding"} {
		if !slices.Contains(kinds, want) {
			t.Errorf("deploy/ has no %s (kinds: %v)", want, kinds)
		}
	}
	for _, o := range objs {
		if o.GetKind() != "Deployment" {
			continue
		}
		containers, _, _ := unstructured.NestedSlice(o.Object, "spec", "template", "spec", "containers")
		for _, c := range containers {
			args, _, _ := unstructured.NestedStringSlice(c.(map[string]any), "args")
			s := strings.Join(args, " ")
			if strings.Contains(s, "write-enabled") || strings.Contains(s, "jwt-secret") {
				t.Errorf("the Deployment passes %q: writes must stay off and secrets come from the environment", s)
			}
		}
	}

	// Create the service account and its role for real, then act with the account's own token.
	for _, o := range objs {
		switch o.GetKind() {
		case "ServiceAccount", "ClusterRole", "ClusterRoleBinding":
			gvk := o.GroupVersionKind()
			m, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
			if err != nil {
				t.Fatal(err)
			}
			var ri dynamic.ResourceInterface = dyn.Resource(m.Resource)
			if m.Scope.Name() == meta.RESTScopeNameNamespace {
				ri = dyn.Resource(m.Resource).Namespace(o.GetNamespace())
			}
			if _, err := ri.Create(ctx, o, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
				t.Fatalf("create %s %s: %v", o.GetKind(), o.GetName(), err)
			}
		}
	}
	tok, err := typed.CoreV1().ServiceAccounts("yard").CreateToken(ctx, "yard", &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptrTo(int64(600))},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("token for the yard service account: %v", err)
	}
	asYard := rest.AnonymousClientConfig(cfg)
	asYard.BearerToken = tok.Status.Token
	yard := kubernetes.NewForConfigOrDie(asYard)

	// RBAC may take a moment to see the new binding.
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err = yard.CoreV1().Pods("demo").List(ctx, metav1.ListOptions{Limit: 1})
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("the yard account cannot list pods for the shared watches: %v", err)
	}
	_, err = yard.CoreV1().ConfigMaps("demo").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "yard-may-not-write"}}, metav1.CreateOptions{})
	if !apierrors.IsForbidden(err) {
		t.Errorf("the yard account wrote on its own (err %v); it may only act as the user", err)
	}
	// It may impersonate people, not service accounts (which could hold more than any person).
	asSA := rest.CopyConfig(asYard)
	asSA.Impersonate = rest.ImpersonationConfig{UserName: "system:serviceaccount:kube-system:default"}
	if _, err := kubernetes.NewForConfigOrDie(asSA).CoreV1().Pods("demo").List(ctx, metav1.ListOptions{Limit: 1}); !apierrors.IsForbidden(err) {
		t.Errorf("the yard account impersonated a service account (err %v)", err)
	}

	// Impersonating carol, RBAC decides as carol: view in demo, no secrets.
	asCarol := rest.CopyConfig(asYard)
	asCarol.Impersonate = rest.ImpersonationConfig{UserName: "carol"}
	carol := kubernetes.NewForConfigOrDie(asCarol)
	if _, err := carol.CoreV1().Pods("demo").List(ctx, metav1.ListOptions{Limit: 1}); err != nil {
		t.Errorf("yard impersonating carol cannot list pods in demo: %v", err)
	}
	if _, err := carol.CoreV1().Secrets("demo").List(ctx, metav1.ListOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("yard impersonating carol listed secrets (err %v)", err)
	}
	if _, err := carol.CoreV1().Pods("team-a").List(ctx, metav1.ListOptions{Limit: 1}); !apierrors.IsForbidden(err) {
		t.Errorf("yard impersonating carol listed pods in team-a (err %v)", err)
	}
}

func ptrTo[T any](v T) *T { return &v }
