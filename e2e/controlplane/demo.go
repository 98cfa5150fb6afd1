package controlplane

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// Demo content. Users are plain names for impersonation (no credentials): alice is
// cluster-admin, bob may edit and exec in team-a only, carol may view demo only (view has no
// secrets and no exec), and anyone in group yard-admins is cluster-admin.
var (
	// DemoNamespaces are created with the same workloads in each.
	DemoNamespaces = []string{"demo", "team-a"}
	// DemoDeployments are the Deployments in each demo namespace.
	DemoDeployments = []string{"web", "api", "worker"}
	// CustomResource is the demo CRD's resource; one object of it, "orders", lives in demo.
	CustomResource = schema.GroupVersionResource{Group: "demo.yard.dev", Version: "v1", Resource: "databases"}
)

// demoPodsPerNamespace: web 2, api 2, worker 1, db 2, migrate 1 (+ minimal 1 in demo). KWOK
// completes Job pods at once, so migrate's counts as Succeeded.
const demoPodsPerNamespace = 8

func applyDemo(ctx context.Context, cfg *rest.Config, volumes string) error {
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return err
	}
	if err := demoRBAC(ctx, client); err != nil {
		return err
	}
	for _, ns := range DemoNamespaces {
		if err := demoNamespace(ctx, client, ns, volumes); err != nil {
			return fmt.Errorf("controlplane: demo %s: %w", ns, err)
		}
	}
	if err := demoCRD(ctx, dyn); err != nil {
		return fmt.Errorf("controlplane: demo CRD: %w", err)
	}
	return nil
}

func ignoreExists(_ any, err error) error {
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	return err
}

func user(name string) rbacv1.Subject {
	return rbacv1.Subject{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: name}
}

func demoRBAC(ctx context.Context, c kubernetes.Interface) error {
	crbs := []*rbacv1.ClusterRoleBinding{
		{ObjectMeta: metav1.ObjectMeta{Name: "yard-demo:alice"}, Subjects: []rbacv1.Subject{user("alice")},
			RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "cluster-admin"}},
		{ObjectMeta: metav1.ObjectMeta{Name: "yard-demo:yard-admins"},
			Subjects: []rbacv1.Subject{{Kind: rbacv1.GroupKind, APIGroup: rbacv1.GroupName, Name: "yard-admins"}},
			RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "cluster-admin"}},
	}
	for _, b := range crbs {
		if err := ignoreExists(c.RbacV1().ClusterRoleBindings().Create(ctx, b, metav1.CreateOptions{})); err != nil {
			return fmt.Errorf("controlplane: demo RBAC: %w", err)
		}
	}
	return nil
}

func demoNamespace(ctx context.Context, c kubernetes.Interface, ns, volumes string) error {
	create := metav1.CreateOptions{}
	if err := ignoreExists(c.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
		Name: ns, Labels: map[string]string{"yard.dev/demo": "true"}}}, create)); err != nil {
		return err
	}
	// RBAC first: tests may check permissions as soon as Start returns.
	switch ns {
	case "team-a":
		role := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "pod-exec", Namespace: ns},
			Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"pods/exec", "pods/attach"}, Verbs: []string{"create", "get"}}}}
		if err := ignoreExists(c.RbacV1().Roles(ns).Create(ctx, role, create)); err != nil {
			return err
		}
		for _, rb := range []*rbacv1.RoleBinding{
			{ObjectMeta: metav1.ObjectMeta{Name: "bob-edit", Namespace: ns}, Subjects: []rbacv1.Subject{user("bob")},
				RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "edit"}},
			{ObjectMeta: metav1.ObjectMeta{Name: "bob-exec", Namespace: ns}, Subjects: []rbacv1.Subject{user("bob")},
				RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "pod-exec"}},
		} {
			if err := ignoreExists(c.RbacV1().RoleBindings(ns).Create(ctx, rb, create)); err != nil {
				return err
			}
		}
	case "demo":
		rb := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "carol-view", Namespace: ns},
			Subjects: []rbacv1.Subject{user("carol")},
			RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "view"}}
		if err := ignoreExists(c.RbacV1().RoleBindings(ns).Create(ctx, rb, create)); err != nil {
			return err
		}
	}

	if err := ignoreExists(c.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "app-config", Namespace: ns},
		Data: map[string]string{"LOG_LEVEL": "info", "FEATURE_FLAGS": "search,presence",
			"app.yaml": "server:\n  port: 8080\n  timeout: 30s\ncache:\n  ttl: 5m\n"},
	}, create)); err != nil {
		return err
	}
	if err := ignoreExists(c.CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "app-secret", Namespace: ns}, Type: corev1.SecretTypeOpaque,
		StringData: map[string]string{"DATABASE_URL": "postgres://app:s3cret@db:5432/app", "API_KEY": "demo-" + ns + "-key"},
	}, create)); err != nil {
		return err
	}

	deployments := []struct {
		name, container, image string
		replicas               int32
		port                   int32
	}{
		{"web", "nginx", "nginx:1.27", 2, 80},
		{"api", "api", "ghcr.io/yardhq/demo-api:1.4.2", 2, 8080},
		{"worker", "worker", "ghcr.io/yardhq/demo-worker:1.4.2", 1, 0},
	}
	for _, d := range deployments {
		ctr := corev1.Container{Name: d.container, Image: d.image,
			EnvFrom: []corev1.EnvFromSource{{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "app-config"}}}},
			Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{
				corev1.ResourceCPU: resource.MustParse("50m"), corev1.ResourceMemory: resource.MustParse("64Mi")}}}
		if d.port != 0 {
			ctr.Ports = []corev1.ContainerPort{{ContainerPort: d.port, Name: "http"}}
		}
		dep := &appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Name: d.name, Namespace: ns, Labels: map[string]string{"app": d.name}},
			Spec: appsv1.DeploymentSpec{
				Replicas: ptr(d.replicas),
				Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": d.name}},
				Template: corev1.PodTemplateSpec{
					ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": d.name}},
					Spec:       corev1.PodSpec{Containers: []corev1.Container{ctr}},
				},
			},
		}
		if err := ignoreExists(c.AppsV1().Deployments(ns).Create(ctx, dep, create)); err != nil {
			return err
		}
	}

	services := []*corev1.Service{
		{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns, Labels: map[string]string{"app": "web"}},
			Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "web"},
				Ports: []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromString("http")}}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: ns, Labels: map[string]string{"app": "db"}},
			Spec: corev1.ServiceSpec{ClusterIP: corev1.ClusterIPNone, Selector: map[string]string{"app": "db"},
				Ports: []corev1.ServicePort{{Name: "postgres", Port: 5432}}}},
	}
	for _, s := range services {
		if err := ignoreExists(c.CoreV1().Services(ns).Create(ctx, s, create)); err != nil {
			return err
		}
	}

	sts := &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: ns, Labels: map[string]string{"app": "db"}},
		Spec: appsv1.StatefulSetSpec{
			ServiceName: "db", Replicas: ptr(int32(2)),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "db"}},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "postgres", Image: "postgres:16",
					Ports: []corev1.ContainerPort{{ContainerPort: 5432, Name: "postgres"}}}}},
			},
		},
	}
	if err := ignoreExists(c.AppsV1().StatefulSets(ns).Create(ctx, sts, create)); err != nil {
		return err
	}

	job := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: "migrate", Namespace: ns, Labels: map[string]string{"app": "migrate"}},
		Spec: batchv1.JobSpec{BackoffLimit: ptr(int32(2)), Template: corev1.PodTemplateSpec{
			ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "migrate"}},
			Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever, Containers: []corev1.Container{{
				Name: "migrate", Image: "ghcr.io/yardhq/demo-api:1.4.2", Command: []string{"/app", "migrate", "up"}}}},
		}},
	}
	if err := ignoreExists(c.BatchV1().Jobs(ns).Create(ctx, job, create)); err != nil {
		return err
	}
	cron := &batchv1.CronJob{
		ObjectMeta: metav1.ObjectMeta{Name: "report", Namespace: ns},
		Spec: batchv1.CronJobSpec{Schedule: "*/30 * * * *", ConcurrencyPolicy: batchv1.ForbidConcurrent,
			SuccessfulJobsHistoryLimit: ptr(int32(1)), FailedJobsHistoryLimit: ptr(int32(1)),
			JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "report"}},
				Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyOnFailure, Containers: []corev1.Container{{
					Name: "report", Image: "ghcr.io/yardhq/demo-worker:1.4.2", Command: []string{"/app", "report"}}}},
			}}}},
	}
	if err := ignoreExists(c.BatchV1().CronJobs(ns).Create(ctx, cron, create)); err != nil {
		return err
	}

	prefix := networkingv1.PathTypePrefix
	ing := &networkingv1.Ingress{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns},
		Spec: networkingv1.IngressSpec{Rules: []networkingv1.IngressRule{{
			Host: ns + ".yard.local",
			IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{
				Paths: []networkingv1.HTTPIngressPath{{Path: "/", PathType: &prefix, Backend: networkingv1.IngressBackend{
					Service: &networkingv1.IngressServiceBackend{Name: "web", Port: networkingv1.ServiceBackendPort{Number: 80}}}}},
			}},
		}}},
	}
	if err := ignoreExists(c.NetworkingV1().Ingresses(ns).Create(ctx, ing, create)); err != nil {
		return err
	}

	// No provisioner runs, so the claim gets a pre-bound hostPath volume and goes Bound.
	hostDir := filepath.Join(volumes, ns+"-data")
	if err := os.MkdirAll(hostDir, 0o755); err != nil {
		return err
	}
	empty := ""
	pv := &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: ns + "-data"},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:                      corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")},
			AccessModes:                   []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimRetain,
			StorageClassName:              empty,
			PersistentVolumeSource:        corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: hostDir}},
			ClaimRef:                      &corev1.ObjectReference{Namespace: ns, Name: "data"},
		},
	}
	if err := ignoreExists(c.CoreV1().PersistentVolumes().Create(ctx, pv, create)); err != nil {
		return err
	}
	pvc := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: "data", Namespace: ns},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			StorageClassName: &empty, VolumeName: ns + "-data",
			Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
		},
	}
	if err := ignoreExists(c.CoreV1().PersistentVolumeClaims(ns).Create(ctx, pvc, create)); err != nil {
		return err
	}

	if ns == "demo" {
		// A bare pod is refused until the controller-manager has made the namespace's default
		// ServiceAccount (controllers retry on their own; this create does not).
		for {
			_, err := c.CoreV1().ServiceAccounts(ns).Get(ctx, "default", metav1.GetOptions{})
			if err == nil {
				break
			}
			if !apierrors.IsNotFound(err) {
				return err
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("default ServiceAccount: %w", ctx.Err())
			case <-time.After(100 * time.Millisecond):
			}
		}
		// A pod whose exec environment has sh but no bash (see NoBashContainer).
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "minimal", Namespace: ns, Labels: map[string]string{"app": "minimal"}},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: NoBashContainer, Image: "busybox:1.36",
				Command: []string{"sleep", "infinity"}}}},
		}
		if err := ignoreExists(c.CoreV1().Pods(ns).Create(ctx, pod, create)); err != nil {
			return err
		}
	}
	return nil
}

var crdGVR = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

func demoCRD(ctx context.Context, dyn dynamic.Interface) error {
	crd := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
		"metadata": map[string]any{"name": CustomResource.Resource + "." + CustomResource.Group},
		"spec": map[string]any{
			"group": CustomResource.Group, "scope": "Namespaced",
			"names": map[string]any{"plural": "databases", "singular": "database", "kind": "Database", "shortNames": []any{"db"}},
			"versions": []any{map[string]any{
				"name": "v1", "served": true, "storage": true,
				"subresources": map[string]any{"status": map[string]any{}},
				"additionalPrinterColumns": []any{
					map[string]any{"name": "Engine", "type": "string", "jsonPath": ".spec.engine"},
					map[string]any{"name": "Replicas", "type": "integer", "jsonPath": ".spec.replicas"},
				},
				"schema": map[string]any{"openAPIV3Schema": map[string]any{
					"type": "object",
					"properties": map[string]any{
						"spec": map[string]any{"type": "object", "properties": map[string]any{
							"engine":   map[string]any{"type": "string", "enum": []any{"postgres", "mysql"}},
							"version":  map[string]any{"type": "string"},
							"replicas": map[string]any{"type": "integer", "minimum": 1},
							"storage":  map[string]any{"type": "string"},
						}},
						"status": map[string]any{"type": "object", "x-kubernetes-preserve-unknown-fields": true},
					},
				}},
			}},
		},
	}}
	if err := ignoreExists(dyn.Resource(crdGVR).Create(ctx, crd, metav1.CreateOptions{})); err != nil {
		return err
	}
	obj := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": CustomResource.Group + "/" + CustomResource.Version, "kind": "Database",
		"metadata": map[string]any{"name": "orders", "namespace": "demo"},
		"spec":     map[string]any{"engine": "postgres", "version": "16", "replicas": int64(2), "storage": "10Gi"},
	}}
	// The resource is served a moment after the CRD is Established.
	for {
		err := ignoreExists(dyn.Resource(CustomResource).Namespace("demo").Create(ctx, obj, metav1.CreateOptions{}))
		if err == nil {
			return nil
		}
		if !apierrors.IsNotFound(err) && !apierrors.IsMethodNotSupported(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last error: %w)", ctx.Err(), err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// demoRunning reports whether every demo workload has its pods Running (Succeeded for the Job)
// and the claims are Bound.
func demoRunning(ctx context.Context, c kubernetes.Interface) (bool, error) {
	for _, ns := range DemoNamespaces {
		pods, err := c.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		want := demoPodsPerNamespace
		if ns == "demo" {
			want++
		}
		running := 0
		for _, p := range pods.Items {
			if p.Status.Phase == corev1.PodRunning || p.Status.Phase == corev1.PodSucceeded {
				running++
			}
		}
		if running < want {
			return false, nil
		}
		pvc, err := c.CoreV1().PersistentVolumeClaims(ns).Get(ctx, "data", metav1.GetOptions{})
		if err != nil || pvc.Status.Phase != corev1.ClaimBound {
			return false, err
		}
	}
	return true, nil
}

func ptr[T any](v T) *T { return &v }
