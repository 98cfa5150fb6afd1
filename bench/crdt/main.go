// Command crdt (run as gobench by run.sh) measures the crdt engine on the inputs bench/crdt/js/yjs.mjs measures yjs on,
// and prints the same JSON shape: per-run times of replaying the automerge-paper trace as
// separate updates, decoding b4-update.bin and encoding the replayed doc as v1 and v2; encoded
// sizes; and the heap held by each loaded doc after a full GC.
//
//	gobench -updates <updates.bin> -b4 <b4-update.bin> -warmup 1 -runs 5
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"runtime"
	"syscall"
	"time"

	"github.com/yardhq/yard/crdt"
	"github.com/yardhq/yard/crdt/lib0"
)

type result struct {
	Engine            string    `json:"engine"`
	Updates           int       `json:"updates"`
	ReplayMs          []float64 `json:"replayMs"`
	DecodeB4Ms        []float64 `json:"decodeB4Ms"`
	EncodeV1Ms        []float64 `json:"encodeV1Ms"`
	EncodeV2Ms        []float64 `json:"encodeV2Ms"`
	ReplayCPUMs       []float64 `json:"replayCpuMs"`
	DecodeB4CPUMs     []float64 `json:"decodeB4CpuMs"`
	EncodeV1CPUMs     []float64 `json:"encodeV1CpuMs"`
	EncodeV2CPUMs     []float64 `json:"encodeV2CpuMs"`
	B4TextLength      int       `json:"b4TextLength"`
	V1Bytes           int       `json:"v1Bytes"`
	V2Bytes           int       `json:"v2Bytes"`
	B4V1Bytes         int       `json:"b4V1Bytes"`
	HeapReplayedBytes int64     `json:"heapReplayedBytes"`
	HeapB4Bytes       int64     `json:"heapB4Bytes"`
	Runtime           string    `json:"runtime"`
}

func main() {
	updatesFile := flag.String("updates", "", "updates file written by yjs.mjs prepare")
	b4File := flag.String("b4", "", "b4-update.bin")
	runs := flag.Int("runs", 5, "measured runs")
	warmup := flag.Int("warmup", 1, "unrecorded runs before the measured ones")
	flag.Parse()
	if err := run(*updatesFile, *b4File, *warmup, *runs); err != nil {
		fmt.Fprintln(os.Stderr, "gobench:", err)
		os.Exit(1)
	}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// clock reads wall time and the process's CPU time (every thread, the GC's included): on a shared
// machine CPU time is the steadier of the two.
type clock struct {
	wall time.Time
	cpu  time.Duration
}

func now() clock {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return clock{time.Now(), time.Duration(ru.Utime.Nano() + ru.Stime.Nano())}
}

// since appends the wall and CPU milliseconds elapsed since c.
func (c clock) since(wall, cpu *[]float64) {
	n := now()
	*wall = append(*wall, ms(n.wall.Sub(c.wall)))
	*cpu = append(*cpu, ms(n.cpu-c.cpu))
}

func readUpdates(file string) ([][]byte, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var out [][]byte
	d := lib0.NewDecoder(b)
	for d.Remaining() > 0 {
		u, err := d.ReadVarUint8Array()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		out = append(out, u)
	}
	return out, nil
}

func replay(updates [][]byte) (*crdt.Doc, error) {
	doc := crdt.NewDoc()
	for i, u := range updates {
		if err := doc.ApplyUpdate(u); err != nil {
			return nil, fmt.Errorf("update %d: %w", i, err)
		}
	}
	return doc, nil
}

func run(updatesFile, b4File string, warmup, runs int) error {
	updates, err := readUpdates(updatesFile)
	if err != nil {
		return err
	}
	endText, err := os.ReadFile(updatesFile + ".text")
	if err != nil {
		return err
	}
	b4, err := os.ReadFile(b4File)
	if err != nil {
		return err
	}
	res := result{Engine: "crdt", Updates: len(updates), Runtime: runtime.Version()}
	if err := measure(&res, updates, endText, b4, warmup, runs); err != nil {
		return err
	}
	if res.HeapReplayedBytes, err = held(func() (*crdt.Doc, error) { return replay(updates) }); err != nil {
		return err
	}
	if res.HeapB4Bytes, err = held(func() (*crdt.Doc, error) {
		d := crdt.NewDoc()
		return d, d.ApplyUpdate(b4)
	}); err != nil {
		return err
	}
	// The inputs must stay live through both measurements, or the first would count their
	// collection as negative document memory.
	runtime.KeepAlive(updates)
	runtime.KeepAlive(b4)
	return json.NewEncoder(os.Stdout).Encode(res)
}

// measure times the operations; its documents are garbage once it returns, before the heap is
// measured. The first warmup runs are not recorded (Node's are its JIT warm-up).
func measure(res *result, updates [][]byte, endText, b4 []byte, warmup, runs int) error {
	for r := 0; r < warmup+runs; r++ {
		if r == warmup {
			*res = result{Engine: res.Engine, Updates: res.Updates, Runtime: res.Runtime}
		}
		runtime.GC()
		t0 := now()
		doc, err := replay(updates)
		if err != nil {
			return err
		}
		t0.since(&res.ReplayMs, &res.ReplayCPUMs)
		if doc.GetText("text").String() != string(endText) {
			return fmt.Errorf("replay gives the wrong text")
		}

		runtime.GC()
		t0 = now()
		b4doc := crdt.NewDoc()
		if err := b4doc.ApplyUpdate(b4); err != nil {
			return fmt.Errorf("b4-update.bin: %w", err)
		}
		t0.since(&res.DecodeB4Ms, &res.DecodeB4CPUMs)
		res.B4TextLength = b4doc.GetText("text").Len()

		t0 = now()
		v1, err := doc.EncodeStateAsUpdate(nil)
		if err != nil {
			return err
		}
		t0.since(&res.EncodeV1Ms, &res.EncodeV1CPUMs)
		t0 = now()
		v2, err := doc.EncodeStateAsUpdateV2(nil)
		if err != nil {
			return err
		}
		t0.since(&res.EncodeV2Ms, &res.EncodeV2CPUMs)
		res.V1Bytes, res.V2Bytes = len(v1), len(v2)
		b4v1, err := b4doc.EncodeStateAsUpdate(nil)
		if err != nil {
			return err
		}
		res.B4V1Bytes = len(b4v1)
	}
	return nil
}

// held is the live heap a loaded document keeps after a full GC (the Go counterpart of Node's
// heapUsed after gc()).
func held(load func() (*crdt.Doc, error)) (int64, error) {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&before)
	doc, err := load()
	if err != nil {
		return 0, err
	}
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&after)
	if doc.GetText("text").Len() == 0 {
		return 0, fmt.Errorf("empty doc")
	}
	runtime.KeepAlive(doc)
	return int64(after.HeapAlloc) - int64(before.HeapAlloc), nil
}
