package shell

import (
	"context"
	"errors"
	"io"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/httpstream"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/remotecommand"
	utilexec "k8s.io/client-go/util/exec"
)

// execFunc runs cmd in the session's container with a TTY until it ends or ctx does.
type execFunc func(ctx context.Context, cmd []string, stdin io.Reader, stdout io.Writer, sizes remotecommand.TerminalSizeQueue) error

// podExec returns an execFunc for one container, made as the user whose client config cfg is:
// client-go's WebSocket executor (the v5 streaming protocol), falling back to SPDY when the
// apiserver or a proxy in between cannot upgrade to WebSockets.
func podExec(client kubernetes.Interface, cfg *rest.Config, namespace, pod, container string) execFunc {
	return func(ctx context.Context, cmd []string, stdin io.Reader, stdout io.Writer, sizes remotecommand.TerminalSizeQueue) error {
		req := client.CoreV1().RESTClient().Post().Resource("pods").Namespace(namespace).Name(pod).SubResource("exec").
			VersionedParams(&corev1.PodExecOptions{
				Container: container, Command: cmd, Stdin: true, Stdout: true, TTY: true,
			}, scheme.ParameterCodec)
		ws, err := remotecommand.NewWebSocketExecutor(cfg, "GET", req.URL().String())
		if err != nil {
			return err
		}
		spdy, err := remotecommand.NewSPDYExecutor(cfg, "POST", req.URL())
		if err != nil {
			return err
		}
		ex, err := remotecommand.NewFallbackExecutor(ws, spdy, func(err error) bool {
			return httpstream.IsUpgradeFailure(err) || httpstream.IsHTTPSProxyError(err)
		})
		if err != nil {
			return err
		}
		return ex.StreamWithContext(ctx, remotecommand.StreamOptions{
			Stdin: stdin, Stdout: stdout, Tty: true, TerminalSizeQueue: sizes,
		})
	}
}

// exitCode reads the process's exit code from an exec result: 0 for nil, the code for an exit
// error, and ok=false when the exec itself failed (no process ran, or the stream broke).
func exitCode(err error) (code int, ok bool) {
	if err == nil {
		return 0, true
	}
	var ee utilexec.ExitError
	if errors.As(err, &ee) && ee.Exited() {
		return ee.ExitStatus(), true
	}
	return -1, false
}

// defaultShells are tried in order when no command is given.
var defaultShells = [][]string{{"bash"}, {"sh"}}

// probeWindow is how long a fallback attempt's output is held back: a shell that is missing
// fails within it (exec error, or exit 126/127 from the runtime), and then its error text is
// not shown before the next shell's prompt.
const probeWindow = 500 * time.Millisecond

// missingShell reports whether an attempt that ended within the probe window means "this shell
// does not exist here" rather than "the shell ran and exited".
func missingShell(err error) bool {
	code, ok := exitCode(err)
	return !ok || code == 126 || code == 127
}

// sizeQueue feeds terminal sizes to one exec attempt.
type sizeQueue struct {
	ctx   context.Context
	first *remotecommand.TerminalSize
	c     <-chan remotecommand.TerminalSize
}

// Next implements remotecommand.TerminalSizeQueue; nil ends the resizing.
func (q *sizeQueue) Next() *remotecommand.TerminalSize {
	if q.first != nil {
		s := q.first
		q.first = nil
		return s
	}
	select {
	case s := <-q.c:
		return &s
	case <-q.ctx.Done():
		return nil
	}
}

// input routes the session's keystrokes to the exec attempt that is current. client-go's stdin
// copier of an attempt that has ended can still be waiting for input; what it takes then is
// carried over to the next attempt instead of being lost, and so is whatever a shell that turned
// out to be missing read.
type input struct {
	c <-chan []byte

	mu      sync.Mutex
	current *chanReader
	carry   []byte
}

// reader makes the reader of a new attempt and makes it current.
func (in *input) reader(ctx context.Context, record bool) *chanReader {
	r := &chanReader{ctx: ctx, in: in, record: record}
	in.mu.Lock()
	in.current = r
	in.mu.Unlock()
	return r
}

// giveBack queues what a failed attempt read for the next one, before anything queued since.
func (in *input) giveBack(r *chanReader) {
	in.mu.Lock()
	defer in.mu.Unlock()
	r.mu.Lock()
	defer r.mu.Unlock()
	in.carry = append(append([]byte(nil), r.got...), in.carry...)
	r.got = nil
}

// chanReader is one exec attempt's stdin.
type chanReader struct {
	ctx    context.Context
	in     *input
	record bool

	mu   sync.Mutex // got is read by giveBack after the attempt
	rest []byte
	got  []byte
}

func (r *chanReader) Read(p []byte) (int, error) {
	if len(r.rest) == 0 {
		r.in.mu.Lock()
		if r.in.current == r && len(r.in.carry) > 0 {
			r.rest, r.in.carry = r.in.carry, nil
		}
		r.in.mu.Unlock()
	}
	if len(r.rest) == 0 {
		if r.ctx.Err() != nil {
			return 0, io.EOF
		}
		select {
		case b := <-r.in.c:
			r.in.mu.Lock()
			if r.in.current != r {
				r.in.carry = append(r.in.carry, b...)
				r.in.mu.Unlock()
				return 0, io.EOF
			}
			r.in.mu.Unlock()
			r.rest = b
		case <-r.ctx.Done():
			return 0, io.EOF
		}
	}
	n := copy(p, r.rest)
	r.rest = r.rest[n:]
	if r.record {
		r.mu.Lock()
		r.got = append(r.got, p[:n]...)
		r.mu.Unlock()
	}
	return n, nil
}
