package crdt

import (
	"encoding/hex"
	"testing"
)

// Found by the interop harness (crdt/interop, XML content): yjs renders an XmlText's formatting
// attributes by iterating each attribute value with for...in, so a string value such as
// color: '#f00' becomes one attribute per UTF-16 index (<color 0="#" 1="f" 2="0" 3="0">), a
// boolean none (<bold>), and an object its keys sorted (<link a="1" href="u">).
func TestXmlTextFormatAttributesRenderLikeYjs(t *testing.T) {
	// yjs 13.6.33, client 1: x = doc.getXmlFragment('x'); x.insert(0, [t = new Y.XmlText()]);
	// t.insert(0, 'ab', {color: '#f00'}); t.insert(2, 'c', {bold: true});
	// t.insert(3, 'd', {link: {href: 'u', a: 1}})
	update, _ := hex.DecodeString("010a010007010178060600010005636f6c6f720622236630302284010102616286010305636f6c6f72046e756c6c86010404626f6c640474727565840105016386010604626f6c64046e756c6c860107046c696e6b127b2268726566223a2275222c2261223a317d8401080164860109046c696e6b046e756c6c00")
	doc := NewDoc()
	if err := doc.ApplyUpdate(update); err != nil {
		t.Fatal(err)
	}
	const want = `<color 0="#" 1="f" 2="0" 3="0">ab</color><bold>c</bold><link a="1" href="u">d</link>` // x.toString() in yjs
	if got := doc.GetXmlFragment("x").String(); got != want {
		t.Fatalf("XmlFragment.String() = %q\nyjs toString()       = %q", got, want)
	}
}
