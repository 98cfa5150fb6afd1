package crdt

import "github.com/yardhq/yard/crdt/lib0"

// updateEncoder abstracts the v1 and v2 field encodings (yjs's
// UpdateEncoderV1/V2 and DSEncoder).
type updateEncoder interface {
	rest() *lib0.Encoder
	writeLeftID(ID)
	writeRightID(ID)
	writeClient(uint64)
	writeInfo(byte)
	writeString(string)
	writeStringBytes([]byte)
	writeParentInfo(bool)
	writeTypeRef(uint64)
	writeLen(uint64)
	writeAny(any)
	writeBuf([]byte)
	writeJSON(any)
	writeKey(string)
	resetDsCurVal()
	writeDsClock(uint64)
	writeDsLen(uint64)
	toBytes() []byte
}

type v1Encoder struct{ e lib0.Encoder }

func newV1Encoder() *v1Encoder { return &v1Encoder{} }

func (v *v1Encoder) rest() *lib0.Encoder { return &v.e }

func (v *v1Encoder) writeLeftID(id ID) {
	v.e.WriteVarUint(id.Client)
	v.e.WriteVarUint(id.Clock)
}

func (v *v1Encoder) writeRightID(id ID) { v.writeLeftID(id) }

func (v *v1Encoder) writeClient(c uint64) { v.e.WriteVarUint(c) }

func (v *v1Encoder) writeInfo(b byte) { v.e.WriteUint8(b) }

func (v *v1Encoder) writeString(s string) { v.e.WriteVarString(s) }

func (v *v1Encoder) writeStringBytes(b []byte) { v.e.WriteVarUint8Array(b) }

func (v *v1Encoder) writeTypeRef(t uint64) { v.e.WriteVarUint(t) }

func (v *v1Encoder) writeLen(l uint64) { v.e.WriteVarUint(l) }

func (v *v1Encoder) writeAny(a any) { v.e.WriteNormalizedAny(a) }

func (v *v1Encoder) writeBuf(b []byte) { v.e.WriteVarUint8Array(b) }

func (v *v1Encoder) writeKey(k string) { v.e.WriteVarString(k) }

func (v *v1Encoder) resetDsCurVal() {}

func (v *v1Encoder) writeDsClock(c uint64) { v.e.WriteVarUint(c) }

func (v *v1Encoder) writeDsLen(l uint64) { v.e.WriteVarUint(l) }

func (v *v1Encoder) toBytes() []byte { return v.e.Bytes() }

func (v *v1Encoder) writeParentInfo(root bool) {
	if root {
		v.e.WriteUint8(1)
	} else {
		v.e.WriteUint8(0)
	}
}

func (v *v1Encoder) writeJSON(a any) {
	s, err := lib0.StringifyJSON(a)
	if err != nil {
		s = "null"
	}
	v.e.WriteVarString(s)
}

// v2Encoder writes the v2 update format: nine RLE columns followed by the
// rest bytes (yjs UpdateEncoderV2).
type v2Encoder struct {
	restE      lib0.Encoder
	dsCurrVal  uint64
	keyClock   int64
	keyClockE  lib0.IntDiffOptRleEncoder
	clientE    lib0.UintOptRleEncoder
	leftClockE lib0.IntDiffOptRleEncoder
	rightClkE  lib0.IntDiffOptRleEncoder
	infoE      lib0.RleEncoder
	stringE    lib0.StringEncoder
	parentE    lib0.RleEncoder
	typeRefE   lib0.UintOptRleEncoder
	lenE       lib0.UintOptRleEncoder
}

func newV2Encoder() *v2Encoder { return &v2Encoder{} }

func (v *v2Encoder) rest() *lib0.Encoder { return &v.restE }

func (v *v2Encoder) writeLeftID(id ID) {
	v.clientE.Write(id.Client)
	v.leftClockE.Write(int64(id.Clock))
}

func (v *v2Encoder) writeRightID(id ID) {
	v.clientE.Write(id.Client)
	v.rightClkE.Write(int64(id.Clock))
}

func (v *v2Encoder) writeClient(c uint64) { v.clientE.Write(c) }

func (v *v2Encoder) writeInfo(b byte) { v.infoE.Write(b) }

func (v *v2Encoder) writeString(s string) { v.stringE.Write(s) }

func (v *v2Encoder) writeStringBytes(b []byte) { v.stringE.WriteBytes(b) }

func (v *v2Encoder) writeTypeRef(t uint64) { v.typeRefE.Write(t) }

func (v *v2Encoder) writeLen(l uint64) { v.lenE.Write(l) }

func (v *v2Encoder) writeAny(a any) { v.restE.WriteNormalizedAny(a) }

func (v *v2Encoder) writeBuf(b []byte) { v.restE.WriteVarUint8Array(b) }

func (v *v2Encoder) writeJSON(a any) { v.restE.WriteNormalizedAny(a) }

func (v *v2Encoder) writeParentInfo(root bool) {
	if root {
		v.parentE.Write(1)
	} else {
		v.parentE.Write(0)
	}
}

// writeKey always writes a new key: yjs 13.6 has the key cache disabled.
func (v *v2Encoder) writeKey(k string) {
	v.keyClockE.Write(v.keyClock)
	v.keyClock++
	v.stringE.Write(k)
}

func (v *v2Encoder) resetDsCurVal() { v.dsCurrVal = 0 }

func (v *v2Encoder) writeDsClock(c uint64) {
	v.restE.WriteVarUint(c - v.dsCurrVal)
	v.dsCurrVal = c
}

func (v *v2Encoder) writeDsLen(l uint64) {
	v.restE.WriteVarUint(l - 1)
	v.dsCurrVal += l
}

func (v *v2Encoder) toBytes() []byte {
	var e lib0.Encoder
	e.WriteVarUint(0) // feature flag
	e.WriteVarUint8Array(v.keyClockE.Bytes())
	e.WriteVarUint8Array(v.clientE.Bytes())
	e.WriteVarUint8Array(v.leftClockE.Bytes())
	e.WriteVarUint8Array(v.rightClkE.Bytes())
	e.WriteVarUint8Array(v.infoE.Bytes())
	e.WriteVarUint8Array(v.stringE.Bytes())
	e.WriteVarUint8Array(v.parentE.Bytes())
	e.WriteVarUint8Array(v.typeRefE.Bytes())
	e.WriteVarUint8Array(v.lenE.Bytes())
	e.WriteBytes(v.restE.Bytes())
	return e.Bytes()
}
