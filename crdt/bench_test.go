package crdt

import (
	"runtime"
	"sync"
	"testing"
)

// Benchmarks for the figures in docs/benchmarks.md (run by make bench; they
// are not timed tests). The B4 updates are produced once by replaying the
// automerge-paper trace locally, one transaction per edit.

var (
	b4Once   sync.Once
	b4Cached [][]byte
)

func loadB4Updates(b *testing.B) [][]byte {
	b4Once.Do(func() {
		want, patches := loadTrace(b)
		b4Cached = b4Updates(b, patches, want)
	})
	return b4Cached
}

// BenchmarkB4ApplyUpdates applies the 259,778 B4 updates one by one to a
// fresh document, as a server does (yjs 13.6.31: ~1.1 s).
func BenchmarkB4ApplyUpdates(b *testing.B) {
	ups := loadB4Updates(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		d := NewDoc()
		for _, u := range ups {
			if err := d.ApplyUpdate(u); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkB4ApplyUpdatesLimited is BenchmarkB4ApplyUpdates with a pending
// limit, which checks every update with a dry run before applying it.
func BenchmarkB4ApplyUpdatesLimited(b *testing.B) {
	ups := loadB4Updates(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		d := NewDocWithOptions(Options{PendingLimit: PendingLimit{Structs: 10000, Bytes: 1 << 20}})
		for _, u := range ups {
			if err := d.ApplyUpdate(u); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkB4Replay replays the trace with local edits, one transaction per
// edit, with an update observer (yjs 13.6.31: ~2.0 s).
func BenchmarkB4Replay(b *testing.B) {
	want, patches := loadTrace(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b4Updates(b, patches, want)
	}
}

// BenchmarkB4Decode loads b4-update.bin into a fresh document.
func BenchmarkB4Decode(b *testing.B) {
	u := readData(b, "b4-update.bin")
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := NewDoc().ApplyUpdate(u); err != nil {
			b.Fatal(err)
		}
	}
}

func b4Doc(b *testing.B) *Doc {
	d := NewDoc()
	if err := d.ApplyUpdate(readData(b, "b4-update.bin")); err != nil {
		b.Fatal(err)
	}
	return d
}

// BenchmarkB4EncodeV1 encodes the loaded B4 document as a v1 update.
func BenchmarkB4EncodeV1(b *testing.B) {
	d := b4Doc(b)
	b.ReportAllocs()
	b.ResetTimer()
	var n int
	for i := 0; i < b.N; i++ {
		u, _ := d.EncodeStateAsUpdate(nil)
		n = len(u)
	}
	b.ReportMetric(float64(n), "bytes")
}

// BenchmarkB4EncodeV2 encodes the loaded B4 document as a v2 update.
func BenchmarkB4EncodeV2(b *testing.B) {
	d := b4Doc(b)
	b.ReportAllocs()
	b.ResetTimer()
	var n int
	for i := 0; i < b.N; i++ {
		u, _ := d.EncodeStateAsUpdateV2(nil)
		n = len(u)
	}
	b.ReportMetric(float64(n), "bytes")
}

// BenchmarkB4Memory reports the live heap held by the loaded B4 document
// (from b4-update.bin, and from the replayed updates).
func BenchmarkB4Memory(b *testing.B) {
	ups := loadB4Updates(b)
	u := readData(b, "b4-update.bin")
	var fromFile, fromUpdates uint64
	for i := 0; i < b.N; i++ {
		fromFile = heapOf(func() any {
			d := NewDoc()
			_ = d.ApplyUpdate(u)
			return d
		})
		fromUpdates = heapOf(func() any {
			d := NewDoc()
			for _, x := range ups {
				_ = d.ApplyUpdate(x)
			}
			return d
		})
	}
	b.ReportMetric(float64(fromFile), "heap-bytes-b4file")
	b.ReportMetric(float64(fromUpdates), "heap-bytes-replayed")
}

func heapOf(build func() any) uint64 {
	var m0, m1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m0)
	v := build()
	runtime.GC()
	runtime.ReadMemStats(&m1)
	runtime.KeepAlive(v)
	if m1.HeapAlloc < m0.HeapAlloc {
		return 0
	}
	return m1.HeapAlloc - m0.HeapAlloc
}

// BenchmarkEmptyDiff encodes the diff against the document's own state
// vector (yjs: 1,000 in 117 ms on the B4 document).
func BenchmarkEmptyDiff(b *testing.B) {
	d := b4Doc(b)
	sv := d.EncodeStateVector()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := d.EncodeStateAsUpdate(sv); err != nil {
			b.Fatal(err)
		}
	}
}
