package errcode

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the browser's generated copy of the table")

// tsTable is the browser's copy of Table, so both ends decide retries from the same rows.
var tsTable = filepath.Join("..", "..", "client", "src", "mux", "codes.gen.ts")

func renderTS() []byte {
	var b bytes.Buffer
	b.WriteString("// Generated from server/errcode (go test ./server/errcode -update); do not edit.\n")
	b.WriteString("// Every coded error a client can receive: HTTP status, WebSocket close code, and\n")
	b.WriteString("// whether a client may retry or reconnect by itself.\n\n")
	b.WriteString("export interface CodeInfo {\n  http: number\n  close: number\n  retry: boolean\n}\n\n")
	b.WriteString("export const errorCodes: Readonly<Record<string, CodeInfo>> = {\n")
	for _, in := range Table {
		fmt.Fprintf(&b, "  %s: { http: %d, close: %d, retry: %t },\n", in.Code, in.HTTP, in.Close, in.Retry)
	}
	b.WriteString("}\n\n")
	fmt.Fprintf(&b, "/** The close code of a code without one of its own (a channel kind's). */\nexport const CLOSE_OTHER = %d\n", CloseOther)
	return b.Bytes()
}

func TestBrowserTableMatches(t *testing.T) {
	want := renderTS()
	if *update {
		if err := os.WriteFile(tsTable, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(tsTable)
	if err != nil {
		t.Fatalf("%v (run: go test ./server/errcode -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s is out of date with errcode.Table; run: go test ./server/errcode -update", tsTable)
	}
}
