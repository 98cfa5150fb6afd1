//go:build chaos

package redisfault

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/yardhq/yard/server/internal/redistest"
)

// slowLink is a network link between a network namespace of its own (where a replica runs) and
// the test's namespace (where Redis runs), made of two TUN devices, one on each side, with this
// process carrying IP packets between them. Each packet the namespace sends to Redis's port is
// held back by delay and dropped with probability loss; everything else passes at once. That is
// `tc qdisc add dev <link> root netem delay D loss L` on the namespace's side of a link, done in
// user space because this machine's kernel has no sch_netem (nor any other qdisc or action that
// delays or drops at random; see docs/reliability.md). The replica's own TCP stack meets the
// loss: it resends after its retransmission timeout, which the namespace's counters show.
type slowLink struct {
	netns          string
	hostIP, nsIP   string // the test's side of the link, the namespace's side
	redisPort      uint16
	delay          time.Duration
	loss           float64
	host, inner    *os.File
	wg             sync.WaitGroup
	impaired, lost atomic.Int64
}

// startSlowLink makes the namespace and the link and lets Redis answer on the test's side of it.
// It needs root (network namespaces, TUN devices); it is removed when the test ends.
func startSlowLink(t *testing.T, rs *redistest.Server, delay time.Duration, loss float64) *slowLink {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("the slow link needs root: network namespaces and TUN devices (run make chaos as root)")
	}
	id := os.Getpid() % 250
	l := &slowLink{
		netns:  fmt.Sprintf("yard-chaos-%d", os.Getpid()),
		hostIP: fmt.Sprintf("10.213.%d.1", id), nsIP: fmt.Sprintf("10.213.%d.2", id),
		delay: delay, loss: loss,
	}
	port, err := strconv.Atoi(rs.Addr()[strings.LastIndexByte(rs.Addr(), ':')+1:])
	if err != nil {
		t.Fatal(err)
	}
	l.redisPort = uint16(port)
	hostDev, innerDev := fmt.Sprintf("ych%d", os.Getpid()), fmt.Sprintf("ycn%d", os.Getpid())
	_ = exec.Command("ip", "netns", "del", l.netns).Run() // left by a killed run with this pid
	ip(t, "netns", "add", l.netns)
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", l.netns).Run() })
	l.host, l.inner = openTUN(t, hostDev), openTUN(t, innerDev)
	ip(t, "-n", l.netns, "link", "set", "lo", "up")
	ip(t, "link", "set", innerDev, "netns", l.netns)
	ip(t, "-n", l.netns, "addr", "add", l.nsIP, "peer", l.hostIP, "dev", innerDev)
	ip(t, "-n", l.netns, "link", "set", innerDev, "up")
	ip(t, "addr", "add", l.hostIP, "peer", l.nsIP, "dev", hostDev)
	ip(t, "link", "set", hostDev, "up")
	l.wg.Go(func() { l.carry(l.inner, l.host, true) })
	l.wg.Go(func() { l.carry(l.host, l.inner, false) })
	t.Cleanup(l.close) // runs before the namespace is deleted, after the replicas are stopped

	// Redis (on loopback) answers on the test's side of the link too.
	rc := rs.Target().Client(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := rc.ConfigSet(ctx, "bind", "127.0.0.1 "+l.hostIP).Err(); err != nil {
		t.Fatalf("redis: bind the link's address: %v", err)
	}
	return l
}

// redisURL is Redis as the namespace reaches it, across the link.
func (l *slowLink) redisURL() string {
	return fmt.Sprintf("redis://%s:%d/0", l.hostIP, l.redisPort)
}

// carry copies packets from src to dst; out=true is the namespace's way out, where packets to
// Redis are impaired. A constant delay keeps them in order, as one netem queue does.
func (l *slowLink) carry(src, dst *os.File, out bool) {
	type held struct {
		p  []byte
		at time.Time
	}
	queue := make(chan held, 1<<16)
	var release sync.WaitGroup
	release.Go(func() {
		for h := range queue {
			time.Sleep(time.Until(h.at))
			_, _ = dst.Write(h.p) // a packet the closed link cannot take is lost, as on a wire
		}
	})
	defer func() {
		close(queue)
		release.Wait()
	}()
	buf := make([]byte, 1<<16)
	for {
		n, err := src.Read(buf)
		if err != nil {
			return // closed
		}
		p := buf[:n]
		if !out || !l.toRedis(p) {
			_, _ = dst.Write(p)
			continue
		}
		l.impaired.Add(1)
		if rand.Float64() < l.loss {
			l.lost.Add(1)
			continue
		}
		select {
		case queue <- held{p: append([]byte(nil), p...), at: time.Now().Add(l.delay)}:
		default:
			l.lost.Add(1) // the queue is full: dropped at its tail, as a qdisc does
		}
	}
}

// toRedis reports whether p is an IPv4 TCP packet to Redis's port.
func (l *slowLink) toRedis(p []byte) bool {
	if len(p) < 20 || p[0]>>4 != 4 || p[9] != unix.IPPROTO_TCP {
		return false
	}
	hl := int(p[0]&0x0f) * 4
	if len(p) < hl+4 {
		return false
	}
	return uint16(p[hl+2])<<8|uint16(p[hl+3]) == l.redisPort
}

// stats returns how many packets to Redis the link carried and how many of them it dropped.
func (l *slowLink) stats() (impaired, lost int64) { return l.impaired.Load(), l.lost.Load() }

// retransmits reads the namespace's TCP retransmission count (RetransSegs in its /proc/net/snmp):
// the replica's kernel resending what the link dropped.
func (l *slowLink) retransmits(t *testing.T) int64 {
	t.Helper()
	out, err := exec.Command("ip", "netns", "exec", l.netns, "cat", "/proc/net/snmp").Output()
	if err != nil {
		t.Fatalf("read the namespace's TCP counters: %v", err)
	}
	n, err := snmpField(string(out), "Tcp", "RetransSegs")
	if err != nil {
		t.Fatal(err)
	}
	return n
}

var snmpLine = regexp.MustCompile(`(?m)^(\w+): (.*)$`)

// snmpField finds one counter in /proc/net/snmp, where each protocol has a line of names and a
// line of values.
func snmpField(snmp, proto, field string) (int64, error) {
	var names []string
	for _, m := range snmpLine.FindAllStringSubmatch(snmp, -1) {
		if m[1] != proto {
			continue
		}
		if names == nil {
			names = strings.Fields(m[2])
			continue
		}
		for i, v := range strings.Fields(m[2]) {
			if i < len(names) && names[i] == field {
				return strconv.ParseInt(v, 10, 64)
			}
		}
	}
	return 0, fmt.Errorf("no %s %s in /proc/net/snmp", proto, field)
}

func (l *slowLink) close() {
	_ = l.host.Close() // ends both carriers' reads; the TUN devices go with their last descriptor
	_ = l.inner.Close()
	l.wg.Wait()
}

// openTUN creates the TUN device name (IP packets, no extra header) and opens it non-blocking,
// so that closing the file ends a read.
func openTUN(t *testing.T, name string) *os.File {
	t.Helper()
	fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		t.Fatalf("open /dev/net/tun: %v", err)
	}
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		t.Fatal(err)
	}
	ifr.SetUint16(unix.IFF_TUN | unix.IFF_NO_PI)
	if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
		_ = unix.Close(fd)
		t.Fatalf("create TUN device %s: %v", name, err)
	}
	return os.NewFile(uintptr(fd), name)
}

// ip runs the ip command, failing the test with its output when it fails.
func ip(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
}
