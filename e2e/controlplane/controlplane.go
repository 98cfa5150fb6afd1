package controlplane

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// nodeName is the one KWOK node every pod lands on.
const nodeName = "yard-node"

// Options selects what Start creates besides the control plane itself.
type Options struct {
	// Demo creates namespaces demo and team-a with workloads whose pods run, a CRD with one
	// custom resource, and RBAC for alice, bob, carol and the group yard-admins (see demo.go).
	Demo bool
	// Quiet turns off the background log lines; AppendLog still works. Default false: every
	// container's log grows by a line every few seconds.
	Quiet bool
}

// ControlPlane is a running local control plane. Its methods are safe for concurrent use.
type ControlPlane struct {
	dir        string
	bin        string
	kubeconfig string
	pki        *pki
	ports      ports
	restConfig *rest.Config

	mu    sync.Mutex
	procs map[string]*process // by name
	order []string            // start order; Stop goes backwards

	logs *logAgent
}

type ports struct{ etcd, etcdPeer, apiserver, controllerManager, scheduler, kwok int }

// Dir is the state directory (certificates, kubeconfig, process logs, pod logs, sandboxes).
func (c *ControlPlane) Dir() string { return c.dir }

// Kubeconfig is the path of an admin kubeconfig (client certificate in group system:masters).
func (c *ControlPlane) Kubeconfig() string { return c.kubeconfig }

// RESTConfig returns a copy of the admin client configuration; set Impersonate on it to act as
// the demo users.
func (c *ControlPlane) RESTConfig() *rest.Config { return rest.CopyConfig(c.restConfig) }

// Start runs a control plane with its state in dir (created if needed) and returns once the
// node is Ready, the default ServiceAccount exists and, with opts.Demo, the demo pods run.
// Processes a previous control plane left in dir are killed first. On error everything started
// is stopped again.
func Start(ctx context.Context, dir string, opts Options) (cp *ControlPlane, err error) {
	bin := BinDir()
	if err := CheckBinaries(bin); err != nil {
		return nil, err
	}
	dir, err = filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("controlplane: %w", err)
	}
	if err := KillStale(dir); err != nil {
		return nil, err
	}
	// A previous run's data would carry its certificates and objects; start clean.
	for _, d := range []string{"etcd", "logs", "pods", "sandboxes", "volumes"} {
		if err := os.RemoveAll(filepath.Join(dir, d)); err != nil {
			return nil, fmt.Errorf("controlplane: %w", err)
		}
	}
	c := &ControlPlane{dir: dir, bin: bin, procs: map[string]*process{}, kubeconfig: filepath.Join(dir, "kubeconfig")}
	defer func() {
		if err != nil {
			_ = c.Stop()
		}
	}()
	if c.pki, err = writePKI(dir); err != nil {
		return nil, err
	}
	if err := c.allocatePorts(); err != nil {
		return nil, err
	}
	if err := c.writeKubeconfig(); err != nil {
		return nil, err
	}
	if err := c.writeKWOKConfig(); err != nil {
		return nil, err
	}

	if err := c.run("etcd", c.etcdArgs()); err != nil {
		return nil, err
	}
	if err := c.waitEtcd(ctx); err != nil {
		return nil, err
	}
	if err := c.run("kube-apiserver", c.apiserverArgs()); err != nil {
		return nil, err
	}
	client, err := kubernetes.NewForConfig(c.restConfig)
	if err != nil {
		return nil, err
	}
	if err := c.waitAPIServer(ctx, client); err != nil {
		return nil, err
	}
	for _, name := range []string{"kube-controller-manager", "kube-scheduler", "kwok"} {
		if err := c.run(name, c.argsFor(name)); err != nil {
			return nil, err
		}
	}
	if err := c.createNode(ctx, client); err != nil {
		return nil, err
	}
	c.logs = newLogAgent(client, filepath.Join(dir, "pods"), !opts.Quiet)
	c.logs.start()
	if opts.Demo {
		if err := applyDemo(ctx, c.restConfig, filepath.Join(dir, "volumes")); err != nil {
			return nil, err
		}
	}
	if err := c.waitReady(ctx, client, opts.Demo); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *ControlPlane) allocatePorts() error {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			_ = l.Close()
		}
	}()
	var got []int
	for range 6 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return fmt.Errorf("controlplane: free port: %w", err)
		}
		ls = append(ls, l)
		got = append(got, l.Addr().(*net.TCPAddr).Port)
	}
	c.ports = ports{got[0], got[1], got[2], got[3], got[4], got[5]}
	return nil
}

// Ports lists every loopback port the control plane listens on.
func (c *ControlPlane) Ports() []int {
	p := c.ports
	return []int{p.etcd, p.etcdPeer, p.apiserver, p.controllerManager, p.scheduler, p.kwok}
}

func (c *ControlPlane) server() string { return "https://127.0.0.1:" + strconv.Itoa(c.ports.apiserver) }

func (c *ControlPlane) writeKubeconfig() error {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["yard-local"] = &clientcmdapi.Cluster{Server: c.server(), CertificateAuthorityData: c.pki.caPEM}
	cfg.AuthInfos["admin"] = &clientcmdapi.AuthInfo{ClientCertificateData: c.pki.certPEM, ClientKeyData: c.pki.keyPEM}
	cfg.Contexts["yard-local"] = &clientcmdapi.Context{Cluster: "yard-local", AuthInfo: "admin"}
	cfg.CurrentContext = "yard-local"
	if err := clientcmd.WriteToFile(*cfg, c.kubeconfig); err != nil {
		return fmt.Errorf("controlplane: kubeconfig: %w", err)
	}
	rc, err := clientcmd.BuildConfigFromFlags("", c.kubeconfig)
	if err != nil {
		return fmt.Errorf("controlplane: kubeconfig: %w", err)
	}
	rc.QPS, rc.Burst = 100, 200
	c.restConfig = rc
	return nil
}

func (c *ControlPlane) etcdArgs() []string {
	client := "http://127.0.0.1:" + strconv.Itoa(c.ports.etcd)
	peer := "http://127.0.0.1:" + strconv.Itoa(c.ports.etcdPeer)
	return []string{
		"--name=default", "--data-dir=" + filepath.Join(c.dir, "etcd"),
		"--listen-client-urls=" + client, "--advertise-client-urls=" + client,
		"--listen-peer-urls=" + peer, "--initial-advertise-peer-urls=" + peer,
		"--initial-cluster=default=" + peer,
		"--log-level=warn", "--unsafe-no-fsync", "--quota-backend-bytes=2147483648",
	}
}

func (c *ControlPlane) apiserverArgs() []string {
	p := c.pki
	return []string{
		"--etcd-servers=http://127.0.0.1:" + strconv.Itoa(c.ports.etcd),
		"--bind-address=127.0.0.1", "--secure-port=" + strconv.Itoa(c.ports.apiserver),
		"--advertise-address=127.0.0.1", "--endpoint-reconciler-type=none",
		"--tls-cert-file=" + p.Cert, "--tls-private-key-file=" + p.Key, "--client-ca-file=" + p.CACert,
		"--service-account-key-file=" + p.SAPub, "--service-account-signing-key-file=" + p.SAKey,
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--authorization-mode=Node,RBAC", "--service-cluster-ip-range=10.0.0.0/24",
		"--kubelet-certificate-authority=" + p.CACert,
		"--kubelet-client-certificate=" + p.Cert, "--kubelet-client-key=" + p.Key,
		"--allow-privileged=true", "--profiling=false", "--v=0",
	}
}

func (c *ControlPlane) argsFor(name string) []string {
	kc := c.kubeconfig
	switch name {
	case "kube-controller-manager":
		return []string{
			"--kubeconfig=" + kc, "--authentication-kubeconfig=" + kc, "--authorization-kubeconfig=" + kc,
			"--root-ca-file=" + c.pki.CACert, "--service-account-private-key-file=" + c.pki.SAKey,
			"--controllers=*", "--leader-elect=false", "--pvclaimbinder-sync-period=2s", "--use-service-account-credentials=false",
			"--bind-address=127.0.0.1", "--secure-port=" + strconv.Itoa(c.ports.controllerManager),
			"--profiling=false", "--v=0",
		}
	case "kube-scheduler":
		return []string{
			"--kubeconfig=" + kc, "--authentication-kubeconfig=" + kc, "--authorization-kubeconfig=" + kc,
			"--leader-elect=false", "--bind-address=127.0.0.1",
			"--secure-port=" + strconv.Itoa(c.ports.scheduler), "--profiling=false", "--v=0",
		}
	case "kwok":
		port := strconv.Itoa(c.ports.kwok)
		return []string{
			"--config=" + filepath.Join(c.dir, "kwok.yaml"), "--kubeconfig=" + kc,
			"--manage-all-nodes=true", "--node-ip=127.0.0.1", "--cidr=10.244.0.0/16", "--node-port=" + port,
			"--server-address=127.0.0.1:" + port,
			"--tls-cert-file=" + c.pki.Cert, "--tls-private-key-file=" + c.pki.Key,
		}
	case "kube-apiserver":
		return c.apiserverArgs()
	case "etcd":
		return c.etcdArgs()
	}
	return nil
}

func (c *ControlPlane) run(name string, args []string) error {
	// A home of its own keeps KWOK from reading or writing the user's ~/.kwok.
	home := filepath.Join(c.dir, "home")
	if err := os.MkdirAll(home, 0o755); err != nil {
		return fmt.Errorf("controlplane: %w", err)
	}
	env := []string{"HOME=" + home}
	p, err := startProcess(c.dir, name, filepath.Join(c.bin, name), args, env)
	c.mu.Lock()
	defer c.mu.Unlock()
	if p.pid() != 0 {
		c.procs[name] = p
		c.order = append(c.order, name)
	}
	return err
}

// poll calls check every interval until it returns true, an error, or ctx ends. It also fails
// as soon as one of the control plane's processes has exited, with the end of its log.
func (c *ControlPlane) poll(ctx context.Context, what string, check func(context.Context) (bool, error)) error {
	var last error
	for {
		ok, err := check(ctx)
		if ok {
			return nil
		}
		if err != nil {
			last = err
		}
		if err := c.deadProcess(); err != nil {
			return fmt.Errorf("controlplane: waiting for %s: %w", what, err)
		}
		select {
		case <-ctx.Done():
			if last != nil {
				return fmt.Errorf("controlplane: waiting for %s: %w (last error: %w)", what, ctx.Err(), last)
			}
			return fmt.Errorf("controlplane: waiting for %s: %w", what, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (c *ControlPlane) deadProcess() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, name := range c.order {
		if p := c.procs[name]; p.exited() {
			return fmt.Errorf("%s exited; end of %s:\n%s", name, p.logFile, p.tail())
		}
	}
	return nil
}

func (c *ControlPlane) waitEtcd(ctx context.Context) error {
	url := "http://127.0.0.1:" + strconv.Itoa(c.ports.etcd) + "/health"
	return c.poll(ctx, "etcd", func(ctx context.Context) (bool, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return false, err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return false, err
		}
		_ = resp.Body.Close()
		return resp.StatusCode == http.StatusOK, nil
	})
}

func (c *ControlPlane) waitAPIServer(ctx context.Context, client kubernetes.Interface) error {
	return c.poll(ctx, "kube-apiserver /readyz", func(ctx context.Context) (bool, error) {
		rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		body, err := client.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(rctx)
		return err == nil && strings.TrimSpace(string(body)) == "ok", err
	})
}

func (c *ControlPlane) createNode(ctx context.Context, client kubernetes.Interface) error {
	capacity := corev1.ResourceList{
		corev1.ResourceCPU:    resource.MustParse("32"),
		corev1.ResourceMemory: resource.MustParse("256Gi"),
		corev1.ResourcePods:   resource.MustParse("500"),
	}
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name:        nodeName,
			Annotations: map[string]string{"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0"},
			Labels: map[string]string{"kubernetes.io/hostname": nodeName, "kubernetes.io/os": "linux",
				"kubernetes.io/arch": "amd64", "type": "kwok"},
		},
		Status: corev1.NodeStatus{Capacity: capacity, Allocatable: capacity},
	}
	return c.poll(ctx, "node creation", func(ctx context.Context) (bool, error) {
		_, err := client.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{})
		return err == nil || apierrors.IsAlreadyExists(err), err
	})
}

func (c *ControlPlane) waitReady(ctx context.Context, client kubernetes.Interface, demo bool) error {
	if err := c.poll(ctx, "node Ready", func(ctx context.Context) (bool, error) {
		n, err := client.CoreV1().Nodes().Get(ctx, nodeName, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		for _, cond := range n.Status.Conditions {
			if cond.Type == corev1.NodeReady {
				return cond.Status == corev1.ConditionTrue, nil
			}
		}
		return false, nil
	}); err != nil {
		return err
	}
	if err := c.poll(ctx, "the default ServiceAccount", func(ctx context.Context) (bool, error) {
		_, err := client.CoreV1().ServiceAccounts("default").Get(ctx, "default", metav1.GetOptions{})
		return err == nil, err
	}); err != nil {
		return err
	}
	if !demo {
		return nil
	}
	return c.poll(ctx, "demo pods Running", func(ctx context.Context) (bool, error) {
		return demoRunning(ctx, client)
	})
}

// RestartAPIServer stops kube-apiserver and starts it again on the same port with the same
// state, returning once it is ready. Clients see their connections drop, as in an upgrade.
func (c *ControlPlane) RestartAPIServer(ctx context.Context) error {
	c.mu.Lock()
	p := c.procs["kube-apiserver"]
	c.mu.Unlock()
	if p == nil {
		return errors.New("controlplane: kube-apiserver is not running")
	}
	if err := p.stop(30 * time.Second); err != nil {
		return err
	}
	if err := p.start(); err != nil {
		return err
	}
	client, err := kubernetes.NewForConfig(c.restConfig)
	if err != nil {
		return err
	}
	return c.waitAPIServer(ctx, client)
}

// Stop kills every process the control plane started, by pid (process groups, then the exec
// sandboxes), and stops the log generator. The state directory is left in place.
func (c *ControlPlane) Stop() error {
	if c.logs != nil {
		c.logs.stop()
	}
	c.mu.Lock()
	order := append([]string(nil), c.order...)
	c.mu.Unlock()
	var errs []error
	for i := len(order) - 1; i >= 0; i-- {
		c.mu.Lock()
		p := c.procs[order[i]]
		c.mu.Unlock()
		if err := p.stop(10 * time.Second); err != nil {
			errs = append(errs, err)
		}
	}
	if err := KillStale(c.dir); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Pids lists the pids of the control plane's running processes (not the exec sandboxes).
func (c *ControlPlane) Pids() []int {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []int
	for _, name := range c.order {
		if p := c.procs[name]; p.pid() != 0 && !p.exited() {
			out = append(out, p.pid())
		}
	}
	return out
}
