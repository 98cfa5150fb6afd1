package shell

import (
	"context"
	"errors"
	"io"
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

// chanReader is one exec attempt's stdin, read from the session's input channel until the
// attempt ends.
type chanReader struct {
	ctx  context.Context
	c    <-chan []byte
	rest []byte
}

func (r *chanReader) Read(p []byte) (int, error) {
	if len(r.rest) == 0 {
		select {
		case b := <-r.c:
			r.rest = b
		case <-r.ctx.Done():
			return 0, io.EOF
		}
	}
	n := copy(p, r.rest)
	r.rest = r.rest[n:]
	return n, nil
}
