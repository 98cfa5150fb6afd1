package crdt

import (
	"math"

	"github.com/yardhq/yard/crdt/lib0"
)

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
func (v *v2Encoder) writeClient(c uint64)      { v.clientE.Write(c) }
func (v *v2Encoder) writeInfo(b byte)          { v.infoE.Write(b) }
func (v *v2Encoder) writeString(s string)      { v.stringE.Write(s) }
func (v *v2Encoder) writeStringBytes(b []byte) { v.stringE.WriteBytes(b) }
func (v *v2Encoder) writeTypeRef(t uint64)     { v.typeRefE.Write(t) }
func (v *v2Encoder) writeLen(l uint64)         { v.lenE.Write(l) }
func (v *v2Encoder) writeAny(a any)            { v.restE.WriteNormalizedAny(a) }
func (v *v2Encoder) writeBuf(b []byte)         { v.restE.WriteVarUint8Array(b) }
func (v *v2Encoder) writeJSON(a any)           { v.restE.WriteNormalizedAny(a) }
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

// v2Decoder reads the v2 format. Column values out of range (negative or
// beyond 2^53) are errors rather than JavaScript's silent coercions.
type v2Decoder struct {
	restD      *lib0.Decoder
	dsCurrVal  uint64
	keys       []string
	keyClockD  *lib0.IntDiffOptRleDecoder
	clientD    *lib0.UintOptRleDecoder
	leftClockD *lib0.IntDiffOptRleDecoder
	rightClkD  *lib0.IntDiffOptRleDecoder
	infoD      *lib0.RleDecoder
	stringD    *lib0.StringDecoder
	parentD    *lib0.RleDecoder
	typeRefD   *lib0.UintOptRleDecoder
	lenD       *lib0.UintOptRleDecoder
	budget     int
}

func newV2Decoder(b []byte) (*v2Decoder, error) {
	d := lib0.NewDecoder(b)
	if _, err := d.ReadVarUint(); err != nil {
		return nil, wrapMalformed(err)
	}
	var cols [9][]byte
	for i := range cols {
		c, err := d.ReadVarUint8Array()
		if err != nil {
			return nil, wrapMalformed(err)
		}
		cols[i] = c
	}
	sd, err := lib0.NewStringDecoder(cols[5])
	if err != nil {
		return nil, wrapMalformed(err)
	}
	return &v2Decoder{
		restD:      d,
		keyClockD:  lib0.NewIntDiffOptRleDecoder(cols[0]),
		clientD:    lib0.NewUintOptRleDecoder(cols[1]),
		leftClockD: lib0.NewIntDiffOptRleDecoder(cols[2]),
		rightClkD:  lib0.NewIntDiffOptRleDecoder(cols[3]),
		infoD:      lib0.NewRleDecoder(cols[4]),
		stringD:    sd,
		parentD:    lib0.NewRleDecoder(cols[6]),
		typeRefD:   lib0.NewUintOptRleDecoder(cols[7]),
		lenD:       lib0.NewUintOptRleDecoder(cols[8]),
		// Runs let a v2 update describe many structs in few bytes; bound
		// them by the input size so tiny input cannot demand huge memory.
		budget: 4*len(b) + 1024,
	}, nil
}

func clockFrom(v int64, err error) (uint64, error) {
	if err != nil {
		return 0, err
	}
	if v < 0 || v > maxClock {
		return 0, errMalformed("clock %d out of range", v)
	}
	return uint64(v), nil
}

func (v *v2Decoder) rest() *lib0.Decoder { return v.restD }
func (v *v2Decoder) readLeftID() (ID, error) {
	c, err := v.clientD.Read()
	if err != nil {
		return ID{}, err
	}
	k, err := clockFrom(v.leftClockD.Read())
	return ID{c, k}, err
}
func (v *v2Decoder) readRightID() (ID, error) {
	c, err := v.clientD.Read()
	if err != nil {
		return ID{}, err
	}
	k, err := clockFrom(v.rightClkD.Read())
	return ID{c, k}, err
}
func (v *v2Decoder) readClient() (uint64, error) { return v.clientD.Read() }
func (v *v2Decoder) readInfo() (byte, error)     { return v.infoD.Read() }
func (v *v2Decoder) readString() (string, error) { return v.stringD.Read() }
func (v *v2Decoder) readStringBytes() ([]byte, error) {
	s, err := v.stringD.Read()
	return []byte(s), err
}
func (v *v2Decoder) readParentInfo() (bool, error) {
	p, err := v.parentD.Read()
	return p == 1, err
}
func (v *v2Decoder) readTypeRef() (uint64, error) { return v.typeRefD.Read() }
func (v *v2Decoder) readLen() (uint64, error)     { return v.lenD.Read() }
func (v *v2Decoder) readAny() (any, error)        { return v.restD.ReadAny() }
func (v *v2Decoder) readBuf() ([]byte, error) {
	b, err := v.restD.ReadVarUint8Array()
	if err != nil {
		return nil, err
	}
	return append([]byte(nil), b...), nil
}
func (v *v2Decoder) readJSON() (any, error) { return v.restD.ReadAny() }
func (v *v2Decoder) readKey() (string, error) {
	kc, err := v.keyClockD.Read()
	if err != nil {
		return "", err
	}
	if kc >= 0 && kc < int64(len(v.keys)) {
		return v.keys[kc], nil
	}
	k, err := v.stringD.Read()
	if err != nil {
		return "", err
	}
	if len(v.keys) < math.MaxInt32 {
		v.keys = append(v.keys, k)
	}
	return k, nil
}
func (v *v2Decoder) resetDsCurVal() { v.dsCurrVal = 0 }
func (v *v2Decoder) readDsClock() (uint64, error) {
	d, err := v.restD.ReadVarUint()
	if err != nil {
		return 0, err
	}
	v.dsCurrVal += d
	if v.dsCurrVal > maxClock {
		return 0, errMalformed("delete set clock out of range")
	}
	return v.dsCurrVal, nil
}
func (v *v2Decoder) readDsLen() (uint64, error) {
	d, err := v.restD.ReadVarUint()
	if err != nil {
		return 0, err
	}
	v.dsCurrVal += d + 1
	if v.dsCurrVal > maxClock {
		return 0, errMalformed("delete set length out of range")
	}
	return d + 1, nil
}
func (v *v2Decoder) structBudget() int { return v.budget }
